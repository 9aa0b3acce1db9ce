"""Suite-wide settings: headless Qt for every test, set here and never in the package."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
