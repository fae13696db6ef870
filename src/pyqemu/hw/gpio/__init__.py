"""GPIO controllers and GPIO-driven keys."""
