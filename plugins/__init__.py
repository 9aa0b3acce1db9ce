"""Layerbrush's first-party plugins: filters, exporters and brush presets.

They are ordinary plugins: declared as entry points in the group
``layerbrush.plugins`` of the project's pyproject.toml and loaded the same way as
any third-party plugin. They import only the published API (``editor.plugins``
and ``editor.api``); an import-linter contract checks that.
"""
