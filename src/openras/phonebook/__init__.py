"""openras.phonebook."""
