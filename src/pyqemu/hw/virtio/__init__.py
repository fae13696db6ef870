"""Virtio transports (virtio-mmio) and, later, devices."""
