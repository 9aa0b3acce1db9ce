"""The Qt user interface. Entry point: :func:`editor.ui.app.run_gui`."""
