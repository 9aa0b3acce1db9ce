"""Entry script for frozen builds (PyInstaller): the same as the ``layerbrush`` command."""
from editor.__main__ import main

if __name__ == "__main__":
    raise SystemExit(main())
