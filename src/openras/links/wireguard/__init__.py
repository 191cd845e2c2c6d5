"""WireGuard links: wg-quick style configs run by wireguard-go (or the kernel) + wg + ip."""
