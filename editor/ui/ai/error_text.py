"""What the AI panels say about a failed job, chosen by the error's kind (never by its text)."""
from __future__ import annotations

from editor.engine.errors import ErrorKind

#: the kinds whose own message is not the best thing to show first
_LEADS = {
    ErrorKind.OUT_OF_MEMORY: "Out of memory: this edit needs more memory than is free. Try fewer steps, "
                             "a smaller region or picture, or low-memory mode.",
    ErrorKind.MODEL_MISSING: "The AI model could not be loaded.",
    ErrorKind.WEIGHTS_MISSING: "This model has no transparency (LayerDiffuse) weights.",
    ErrorKind.WEIGHTS_MISMATCH: "The weight files do not fit this model.",
    ErrorKind.DISK_FULL: "There is not enough free disk space.",
}


def error_kind_of(kind) -> ErrorKind:
    """``kind`` (an ErrorKind or its value; None or unknown -> internal) as an ErrorKind."""
    try:
        return ErrorKind(kind)
    except ValueError:
        return ErrorKind.INTERNAL


def user_message(kind, message: str | None) -> str:
    """A user-facing sentence for a failure of ``kind``, with the engine's message as detail."""
    lead = _LEADS.get(error_kind_of(kind))
    detail = (message or "").strip()
    if lead is None:
        return f"Error: {detail}" if detail else "Error"
    return f"{lead}\n{detail}" if detail and error_kind_of(kind) is not ErrorKind.OUT_OF_MEMORY else lead
