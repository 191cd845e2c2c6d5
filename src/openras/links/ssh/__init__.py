"""SSH links: the OpenSSH client as a supervised control master (SOCKS or tun)."""
