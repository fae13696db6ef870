"""Hardware: devices, buses and boards."""
