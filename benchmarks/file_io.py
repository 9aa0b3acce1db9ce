"""Save/open speed of the file formats; prints JSON (medians in seconds).

    python benchmarks/file_io.py [--size 2048] [--layers 8] [--repeat 3]

Document: size x size, ``layers`` full-size layers with smooth gradients plus
low-amplitude noise (like painted or photographic content; pure gradients
compress unrealistically well), half-transparent above an opaque background.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from editor.core.document import Document
from editor.core.layers import RasterLayer
from editor.io.flatten import flatten
from editor.io.ora import load_ora, save_ora
from editor.io.psd import load_psd, save_psd


def make_document(size: int, layers: int) -> Document:
    rng = np.random.default_rng(0)
    doc = Document(size, size)
    y, x = np.mgrid[0:size, 0:size]
    for i in range(layers):
        px = np.empty((size, size, 4), np.uint8)
        px[..., 0] = (x * 255 // size + i * 10) % 256
        px[..., 1] = (y * 255 // size * (i + 1)) % 256
        px[..., 2] = rng.integers(0, 40, (size, size))
        px[..., 3] = 255 if i == 0 else 128
        doc.add_layer(RasterLayer(f"layer {i}", px))
    return doc


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return round(statistics.median(times), 3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    doc = make_document(args.size, args.layers)
    composite = flatten(doc)
    with tempfile.TemporaryDirectory() as d:
        ora, psd = Path(d) / "a.ora", Path(d) / "a.psd"
        result = {
            "document": f"{args.size}x{args.size}, {args.layers} layers",
            "flatten_s": median_time(lambda: flatten(doc), args.repeat),
            "ora_save_s": median_time(lambda: save_ora(doc, ora), args.repeat),
            "ora_save_with_cached_composite_s": median_time(
                lambda: save_ora(doc, ora, composite=composite), args.repeat),
            "ora_open_s": median_time(lambda: load_ora(ora), args.repeat),
            "ora_mb": round(ora.stat().st_size / 1e6, 1),
            "psd_save_s": median_time(lambda: save_psd(doc, psd), args.repeat),
            "psd_open_s": median_time(lambda: load_psd(psd), args.repeat),
            "psd_mb": round(psd.stat().st_size / 1e6, 1),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
