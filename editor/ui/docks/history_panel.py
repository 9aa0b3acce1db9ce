"""The History panel: the document's undo steps; clicking one jumps there."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget


class HistoryPanel(QWidget):
    """Row 0 is the initial state; row i means "i steps applied". Redoable rows are grey."""

    def __init__(self, session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("history-panel")
        self.session = session
        self.list = QListWidget()
        self.list.setObjectName("history-list")
        self.list.itemClicked.connect(self._on_clicked)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.list)
        self._history = None
        session.document_replaced.connect(self._attach)
        self._attach(session.document)

    def _attach(self, doc) -> None:
        if self._history is not None:
            self._history.events.changed.disconnect(self.refresh)
        self._history = doc.history
        self._history.events.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        h = self._history
        labels = ["Initial state"] + h.labels
        self.list.blockSignals(True)
        self.list.clear()
        italic = QFont()
        italic.setItalic(True)
        for i, text in enumerate(labels):
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, i)
            if i > h.index:
                item.setForeground(Qt.GlobalColor.gray)
                item.setFont(italic)
            self.list.addItem(item)
        self.list.setCurrentRow(h.index)
        self.list.blockSignals(False)
        self.list.scrollToItem(self.list.item(h.index))

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.jump(item.data(Qt.ItemDataRole.UserRole))

    def jump(self, index: int) -> None:
        self._history.jump(index)
