"""Files: OpenRaster (native), PSD, flat images, safe archive reading, atomic saving, recovery.

Entry points: ``project.open_document`` / ``project.save_document`` /
``project.export_image`` / ``project.export_layers``; every reader raises only
``errors.FileFormatError`` for bad input. No Qt, no torch.
"""
