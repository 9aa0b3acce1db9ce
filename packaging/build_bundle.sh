#!/usr/bin/env bash
# Build the stand-alone one-folder bundle dist/layerbrush/ with PyInstaller, from the
# repository root, using the environment the editor is installed in:
#
#     packaging/build_bundle.sh                 # PYTHON defaults to .venv/bin/python
#     PYTHON=/path/to/python packaging/build_bundle.sh
#
# It installs PyInstaller into that environment if it is missing (a build tool: it never
# changes the editor's own packages), builds, prints the bundle's size, then runs the smoke
# test (tests/test_bundle.py) against it unless SMOKE=0.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
"$PYTHON" -c "import PyInstaller" 2>/dev/null || "$PYTHON" -m pip install "pyinstaller>=6.10"
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/layerbrush.spec
echo "bundle: dist/layerbrush ($(du -sh dist/layerbrush | cut -f1))"
if [ "${SMOKE:-1}" != 0 ]; then
    LAYERBRUSH_BUNDLE="$PWD/dist/layerbrush/layerbrush" "$PYTHON" -m pytest -q tests/test_bundle.py
fi
