"""screenrecall: a local memory of what was on your screen."""

__version__ = "0.1.0"
