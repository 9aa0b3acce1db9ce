"""How closely our PSD import renders real Photoshop files; prints JSON.

    nice python benchmarks/psd_fidelity.py [--corpus DIR] [--out docs/psd_fidelity.json] [--timeout 60] [--jobs 1]

Every .psd/.psb under the corpus (default ../shared/corpus/psd next to the
checkout, or $LAYERBRUSH_PSD_CORPUS) is opened with ``editor.io.psd.load_psd``,
flattened by our compositor and compared with the merged image Photoshop stored
in the file (``psd_tools.PSDImage.topil()``). Both are flattened onto white (the
merged image is stored that way when it has no alpha) and compared per channel
in 0..255, alpha included when the merged image has one. Files are scored in
worker processes with a timeout, so a hang or crash is recorded, not fatal.
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


def _safe_score(path: str) -> dict:
    """``score`` with any exception reported as the file's result."""
    try:
        return score(Path(path))
    except Exception as e:  # noqa: BLE001 - reported, the run goes on
        return {"file": path, "status": "crash", "error": f"{type(e).__name__}: {e}"}


def _preload() -> None:
    """Import what every file needs once per worker process."""
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
    """``score`` for every file in worker processes, ``jobs`` at a time, in the order
    given; ``file`` is made relative to ``corpus``. A file that runs past ``timeout``
    seconds (counted from when its result is awaited) or kills its worker is
    recorded as such and the pool is started afresh for the rest. Workers are
    spawned, not forked: a fork of a process with threads (a test run's) can
    deadlock in the child."""
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures import TimeoutError as FutureTimeout
    from concurrent.futures.process import BrokenProcessPool

    ctx = mp.get_context("spawn")
    results: dict[Path, dict] = {}
    pending = list(files)
    while pending:
        pool = ProcessPoolExecutor(max(1, jobs), mp_context=ctx, initializer=_preload)
        futures = [(p, pool.submit(_safe_score, str(p))) for p in pending]
        restart = False
        for path, future in futures:
            try:
                results[path] = future.result(timeout=timeout)
            except FutureTimeout:
                results[path] = {"file": str(path), "status": "timeout", "timeout_s": timeout}
                restart = True
            except BrokenProcessPool:
                results[path] = {"file": str(path), "status": "crash", "error": "the worker process died"}
                restart = True
            if restart:
                break
        if restart:
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.kill()  # a hung worker would otherwise keep the pool
            pool.shutdown(wait=False, cancel_futures=True)
        else:
            pool.shutdown()
        pending = [p for p in pending if p not in results]
    out = []
    for path in files:
        r = results[path]
        r["file"] = str(path.relative_to(corpus))
        out.append(r)
    return out


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
