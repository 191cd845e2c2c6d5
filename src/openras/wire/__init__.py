"""openras.wire."""
