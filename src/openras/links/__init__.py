"""openras.links."""
