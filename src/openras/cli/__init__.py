"""openras.cli."""
