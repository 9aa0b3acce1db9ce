"""Live checking of a prompt box: AND / NOT / weight syntax errors shown as the user types.

A PromptCheck watches a QLineEdit. While the text does not parse (editor.core.prompt_syntax)
the box gets a red border and the error as its tooltip, and ``label`` (put it under the box)
names the problem and its position; callers ask ``valid`` before they submit. With
``composition=False`` (modes whose engine cannot combine terms) AND / NOT / weights are
reported as unsupported instead of silently ignored.
"""
from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QLineEdit

from editor.core.prompt_syntax import PromptSyntaxError, parse_prompt

ERROR_STYLE = "QLineEdit { border: 1px solid #d03030; }"


class PromptCheck(QObject):
    def __init__(self, edit: QLineEdit, *, composition: bool = True, what: str = "Prompt") -> None:
        super().__init__(edit)
        self.edit = edit
        self.composition = composition
        self.what = what
        self._tooltip = edit.toolTip()
        self.label = QLabel()
        self.label.setObjectName(f"{edit.objectName()}-error")
        self.label.setWordWrap(True)
        self.label.setStyleSheet("color: #d03030;")
        self.label.hide()
        self.error: str | None = None
        edit.textChanged.connect(self.recheck)
        self.recheck()

    @property
    def valid(self) -> bool:
        return self.error is None

    def check(self, text: str) -> str | None:
        """The message for ``text``, or None when it can be submitted."""
        try:
            parsed = parse_prompt(text)
        except PromptSyntaxError as exc:
            return f"{self.what}: {exc}"
        if parsed.composed and not self.composition:
            return f"{self.what}: AND / NOT and weights are not supported here (transparent layers)"
        return None

    def recheck(self, *_) -> None:
        """Re-check the box (connected to textChanged; call it after setting text with signals blocked)."""
        self.error = self.check(self.edit.text())
        self.edit.setStyleSheet(ERROR_STYLE if self.error else "")
        self.edit.setToolTip(self.error or self._tooltip)
        self.label.setText(self.error or "")
        self.label.setVisible(self.error is not None)
