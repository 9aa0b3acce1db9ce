"""Peak memory of opening large images; prints JSON (MB of peak resident memory).

    python benchmarks/decode_memory.py [--side 16384] [--src DIR]

Cases, each opened by ``open_document`` in a fresh Python process whose peak resident
set (``ru_maxrss``) is reported, with the same process's peak after imports as
``baseline_mb``:

* ``png_rgb``: a side x side RGB PNG (a flat colour, about 1 MB on disk), within the
  limits; the result itself is side*side*4 bytes (``result_mb``);
* ``png_rgba``: the same as RGBA;
* ``ora_six_refs``: an OpenRaster file whose six layers all name that PNG (over the
  per-file pixel budget: it is refused; the question is how much memory the refusal costs).

``--src`` runs the cases against another checkout's ``editor`` package (to compare a
change with the code before it).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

MAKE_PNG = """
import sys
from PIL import Image
Image.MAX_IMAGE_PIXELS = None
mode, side, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
Image.new(mode, (side, side), (40, 90, 160, 200)[: len(mode)]).save(path, compress_level=9)
"""

MEASURE = """
import json, resource, sys
from editor.io.errors import FileFormatError
from editor.io.project import open_document
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
outcome = "opened"
try:
    doc = open_document(sys.argv[1])
except FileFormatError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[1][:120]
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"baseline_mb": round(base / 1024), "peak_mb": round(peak / 1024), "outcome": outcome}))
"""


def measure(path: Path, src: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(src))
    out = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, env=env,
                         cwd=src, check=True, timeout=1800)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--side", type=int, default=16384)
    ap.add_argument("--src", type=Path, default=ROOT, help="checkout whose editor package is measured")
    args = ap.parse_args()
    side = args.side
    results = {"side": side, "result_mb": round(side * side * 4 / 2**20), "src": str(args.src)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for mode in ("RGB", "RGBA"):
            png = tmp / f"big_{mode}.png"
            subprocess.run([sys.executable, "-c", MAKE_PNG, mode, str(side), str(png)], check=True, timeout=1800)
            results[f"png_{mode.lower()}"] = dict(measure(png, args.src), file_mb=round(png.stat().st_size / 2**20, 2))
        ora = tmp / "six.ora"
        layers = "".join(f'<layer src="data/big.png" name="l{i}"/>' for i in range(6))
        with zipfile.ZipFile(ora, "w") as z:
            z.writestr("mimetype", "image/openraster", compress_type=zipfile.ZIP_STORED)
            z.writestr("stack.xml", f'<image w="{side}" h="{side}"><stack>{layers}</stack></image>')
            z.write(tmp / "big_RGB.png", "data/big.png")
        results["ora_six_refs"] = measure(ora, args.src)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
