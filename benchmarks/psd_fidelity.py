"""How closely our PSD import renders real Photoshop files; prints JSON.

    nice python benchmarks/psd_fidelity.py [--corpus DIR] [--out docs/psd_fidelity.json] [--timeout 60] [--jobs 1]

Every .psd/.psb under the corpus (default ../shared/corpus/psd next to the
checkout, or $LAYERBRUSH_PSD_CORPUS) is opened with ``editor.io.psd.load_psd``,
flattened by our compositor and compared with the merged image Photoshop stored
in the file (``psd_tools.PSDImage.topil()``). Both are flattened onto white (the
merged image is stored that way when it has no alpha) and compared per channel
in 0..255, alpha included when the merged image has one. Each file runs in its
own forked process with a timeout, so a hang or crash is recorded, not fatal.
Per-file figures go to ``--out``; the summary is printed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: the threshold the summary reports shares for (mean abs diff, 0..255)
GOOD_MEAN = 10.0


def default_corpus() -> Path:
    env = os.environ.get("LAYERBRUSH_PSD_CORPUS")
    if env:
        return Path(env)
    for base in (ROOT.parent / "shared", ROOT.parent.parent / "shared"):
        if (base / "corpus" / "psd").is_dir():
            return base / "corpus" / "psd"
    return ROOT.parent / "shared" / "corpus" / "psd"


def corpus_files(corpus: Path) -> list[Path]:
    return sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".psd", ".psb") and p.is_file())


def _on_white(rgba: np.ndarray) -> np.ndarray:
    a = rgba[..., 3:4].astype(np.float64) / 255.0
    return rgba[..., :3].astype(np.float64) * a + 255.0 * (1.0 - a)


def reference(path: Path) -> tuple[np.ndarray | None, bool]:
    """Photoshop's merged image as HxWx4 uint8 (None when the file has none), and
    whether it carries alpha."""
    from psd_tools import PSDImage

    img = PSDImage.open(path).topil()
    if img is None:
        return None, False
    has_alpha = "A" in img.getbands()
    return np.array(img.convert("RGBA"), np.uint8), has_alpha


def score(path: Path) -> dict:
    """Figures for one file (runs in a child process)."""
    from editor.io.flatten import flatten
    from editor.io.psd import load_psd

    out: dict = {"file": str(path)}
    t0 = time.perf_counter()
    warnings: list[str] = []
    try:
        doc = load_psd(path, warnings)
    except Exception as e:  # a refusal is a result: recorded with its message
        out.update(status="refused", error=f"{type(e).__name__}: {e}")
        return out
    ours = flatten(doc)
    out["load_render_s"] = round(time.perf_counter() - t0, 3)
    out["warnings"] = warnings
    ref, has_alpha = reference(path)
    if ref is None:
        out["status"] = "no-reference"
        return out
    if ref.shape != ours.shape:
        out.update(status="size-mismatch", ours=list(ours.shape), reference=list(ref.shape))
        return out
    diff = np.abs(_on_white(ours) - _on_white(ref))
    if has_alpha:
        diff = np.concatenate([diff, np.abs(ours[..., 3:4].astype(np.float64) - ref[..., 3:4])], axis=2)
    out.update(status="ok", mean=round(float(diff.mean()), 3), max=round(float(diff.max()), 1))
    return out


def _child(path: str, queue) -> None:
    try:
        queue.put(score(Path(path)))
    except BaseException as e:  # noqa: BLE001 - reported, the run goes on
        queue.put({"file": path, "status": "crash", "error": f"{type(e).__name__}: {e}"})


def score_with_timeout(path: Path, timeout: float) -> dict:
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(str(path), queue))
    proc.start()
    try:
        result = queue.get(timeout=timeout)
    except Exception:
        result = {"file": str(path), "status": "timeout", "timeout_s": timeout}
    proc.join(5)
    if proc.is_alive():
        proc.kill()
        proc.join()
    return result


def _preload() -> None:
    """Import what every file needs once, here: forked children then start warm
    instead of each importing psd-tools' compositor (and scipy) again."""
    import editor.io.flatten  # noqa: F401
    import editor.io.psd  # noqa: F401
    import psd_tools  # noqa: F401

    try:
        import psd_tools.composite  # noqa: F401
        import psd_tools.composite.vector  # noqa: F401
        import scipy.ndimage  # noqa: F401
    except ImportError:
        pass  # the reader says per layer what it could not draw


def score_all(files: list[Path], corpus: Path, timeout: float, jobs: int = 1) -> list[dict]:
    """``score_with_timeout`` for every file, ``jobs`` at a time (each in its own
    process), in the order given; ``file`` is made relative to ``corpus``."""
    from concurrent.futures import ThreadPoolExecutor

    _preload()

    def one(path: Path) -> dict:
        r = score_with_timeout(path, timeout)
        r["file"] = str(path.relative_to(corpus))
        return r

    if jobs <= 1:
        return [one(p) for p in files]
    with ThreadPoolExecutor(jobs) as pool:  # threads only wait: the work is in child processes
        return list(pool.map(one, files))


def summarize(results: list[dict]) -> dict:
    total = len(results)
    ok = [r for r in results if r["status"] == "ok"]
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    good = sum(1 for r in ok if r["mean"] <= GOOD_MEAN)
    return {
        "files": total,
        "status": counts,
        "compared": len(ok),
        f"within_mean_{GOOD_MEAN:g}": good,
        f"share_within_mean_{GOOD_MEAN:g}_of_compared": round(good / len(ok), 3) if ok else None,
        "within_max_2": sum(1 for r in ok if r["max"] <= 2),
        "median_mean": round(float(np.median([r["mean"] for r in ok])), 3) if ok else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "psd_fidelity.json")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per file")
    ap.add_argument("--jobs", type=int, default=1, help="files scored at once (one process each)")
    args = ap.parse_args(argv)
    corpus = args.corpus or default_corpus()
    files = corpus_files(corpus)
    if not files:
        print(f"no .psd/.psb files under {corpus}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    results = score_all(files, corpus, args.timeout, args.jobs)
    summary = summarize(results)
    summary["seconds"] = round(time.perf_counter() - t0, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "files": results}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
