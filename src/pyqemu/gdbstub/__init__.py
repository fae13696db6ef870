"""The gdbstub: debugging guests with gdb over the remote serial protocol (QEMU -g / -gdb)."""
