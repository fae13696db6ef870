"""PCI: configuration space, devices, host bridges (gpex)."""
