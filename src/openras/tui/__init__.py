"""openras.tui."""
