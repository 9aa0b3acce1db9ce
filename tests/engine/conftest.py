"""Engine test fixtures: a tiny random-weight model built once per session (see editor.engine.testing)."""
from editor.engine.testing import tiny_model, tiny_model_dir, tiny_sdxl_dir  # noqa: F401
