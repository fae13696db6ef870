"""Real-time clocks."""
