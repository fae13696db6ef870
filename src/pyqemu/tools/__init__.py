"""Command-line tools that ship with pyqemu (pyqemu-img)."""
