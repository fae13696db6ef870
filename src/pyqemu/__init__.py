"""pyqemu: a machine emulator and virtualizer in Python, compatible with QEMU."""

__version__ = "0.1.0"
