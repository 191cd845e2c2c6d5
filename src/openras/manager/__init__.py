"""openras.manager."""
