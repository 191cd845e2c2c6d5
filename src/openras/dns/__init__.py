"""DNS per link, as Windows and NetworkManager apply it: a connected link's servers and
domains go to the system's resolver (systemd-resolved, resolvconf or /etc/resolv.conf) and
come off when it goes.

:mod:`openras.dns.plan` decides (pure), :mod:`openras.dns.compose` writes resolv.conf text
(pure), :mod:`openras.dns.backends` applies, :mod:`openras.dns.service` journals and keeps
it for the daemon. Only the daemon imports the backends (and, lazily, dbus-fast).
"""

from openras.dns.plan import DnsPlan, plan_dns

__all__ = ["DnsPlan", "plan_dns"]
