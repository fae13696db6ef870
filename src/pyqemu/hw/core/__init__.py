"""Machine-independent device infrastructure: IRQ lines, sysbus, ROM blobs, machines."""
