"""openras: the Windows Remote Access Service model for Linux."""

__version__ = "0.1.0"
