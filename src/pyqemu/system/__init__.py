"""System mode: whole-machine emulation (pyqemu-system-*). The command line lives in ``vl``."""
