"""NetworkManager as a third column: its OpenVPN plugin in ``bench_links.py``, its kernel
WireGuard in the VM benchmark (``tests/vm/guest/bench_wireguard.py``).

The recipe is ``../shared/reference/peer-networkmanager.md``'s, made self-contained:

* NetworkManager runs in a namespace of its own (``<tag>-nm``), joined to the server
  namespace A by a second veth, so it never sees rasman's or the raw client's tun devices;
  it reaches the same server at the same address (a host route through A).
* Its whole world is private: a mount namespace where ``/run`` and ``/var/lib/NetworkManager``
  are tmpfs, ``/sys`` is read-only (so NM does not wait for a udev that is not running), and
  a D-Bus system bus of its own listens at the standard path inside that ``/run``. nmcli, in
  the root namespace, reaches that bus through ``/proc/<NM pid>/root``. Nothing of the
  machine's own ``/run``, ``/etc/NetworkManager`` or D-Bus is touched.
* The connection is imported from the same ``client.ovpn`` with ``nmcli connection import``
  (HOME in the work dir: the import copies certificates under ``~/.cert``), with the user
  name and password stored in it (no secret agent).

OpenVPN (:class:`NmOpenVpn`). Dial: ``nmcli connection up`` until it returns (NM says
activated: addresses and routes on the tun). Hang-up: ``nmcli connection down`` until NM's
openvpn child has exited and the tun is gone (what ``hang_up(wait=True)`` and the raw side
wait for). nm-openvpn always passes ``--explicit-exit-notify`` for UDP, so its openvpn
lingers about a second after SIGTERM to tell the server: that second is NetworkManager's,
and the table says so.

WireGuard (:class:`NmWireGuard`, kernel module only: NetworkManager has no userspace
fallback). The connection is ``nmcli connection import type wireguard`` of the same wg-quick
file. NetworkManager calls a WireGuard connection activated once it is configured, before any
handshake; openras and the raw side count the first handshake, so the dial here is ``nmcli
connection up``, then the peer's handshake read over netlink (in-process, every 1 ms). Hang-up:
``nmcli connection down`` until the interface is gone.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from _netlab import OVPN_PASSWORD, OVPN_USER, BenchError, NetnsLab, NsPair, wait_until

NM_PROGRAMS = ("NetworkManager", "nmcli", "dbus-daemon")
NM_PLUGIN = Path("/usr/lib/NetworkManager/nm-openvpn-service")
POLL = 0.001
CONNECTION = "bench-nm-vpn"

_DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""

_NM_CONF = """[main]
plugins=keyfile
auth-polkit=false
dns=none
rc-manager=unmanaged
hostname-mode=none
no-auto-default=*
dhcp=internal
systemd-resolved=false

[keyfile]
path={keyfiles}
unmanaged-devices=except:interface-name:{ifname};except:type:tun;except:type:wireguard

[logging]
level=INFO

[connectivity]
enabled=false
"""

_BASE = """[connection]
id=bench-nm-base
type=ethernet
interface-name={ifname}
autoconnect=true

[ipv4]
method=manual
address1={addr}/30,{gateway}

[ipv6]
method=disabled
"""

#: Runs as the namespace's first process: private /run, /var/lib/NetworkManager and a
#: read-only /sys, the bus, then NetworkManager itself (exec: its pid is the spawned one).
_LAUNCH = """set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/dbus /run/NetworkManager
mount -t tmpfs -o mode=0755 tmpfs /var/lib/NetworkManager
mount -o remount,bind,ro /sys
dbus-daemon --config-file="$1/dbus.conf" --nofork --nopidfile &
echo $! > "$1/dbus.pid"
exec NetworkManager --no-daemon --config="$1/NetworkManager.conf" --pid-file=/run/NetworkManager/nm.pid
"""


def nm_missing(openvpn: bool = True) -> list[str]:
    """What this side needs and the machine lacks (Debian: network-manager, dbus, and for
    OpenVPN network-manager-openvpn)."""
    from _netlab import missing_programs

    missing = missing_programs(*NM_PROGRAMS)
    if openvpn and not NM_PLUGIN.exists():
        missing.append(str(NM_PLUGIN))
    return missing


@dataclass
class NmLab:
    """One NetworkManager in a namespace and world of its own, joined to the server's
    namespace A (see the module docstring); subclasses import and time a connection."""

    lab: NetnsLab
    pair: NsPair
    work: Path
    ns: str = ""
    nm: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        d = self.work
        d.mkdir(parents=True, exist_ok=True)
        self.ns = f"{self.pair.a.rsplit('-', 1)[0]}-nm"
        subprocess.run(["ip", "netns", "add", self.ns], check=True, capture_output=True)
        self.lab.namespaces.append(self.ns)
        third = self.pair.addr_a.split(".")[2]
        a_addr, nm_addr = f"10.232.{third}.1", f"10.232.{third}.2"
        ip = ["ip"]
        subprocess.run(
            [*ip, "link", "add", "veth-nma", "netns", self.pair.a, "type", "veth",
             "peer", "name", "veth-nm", "netns", self.ns],
            check=True, capture_output=True,
        )  # fmt: skip
        for cmd in (
            ["-n", self.pair.a, "addr", "add", f"{a_addr}/30", "dev", "veth-nma"],
            ["-n", self.pair.a, "link", "set", "veth-nma", "up"],
            ["-n", self.ns, "link", "set", "lo", "up"],
        ):
            subprocess.run([*ip, *cmd], check=True, capture_output=True)
        keyfiles = d / "system-connections"
        keyfiles.mkdir(mode=0o700)
        base = keyfiles / "bench-nm-base.nmconnection"
        base.write_text(_BASE.format(ifname="veth-nm", addr=nm_addr, gateway=a_addr))
        base.chmod(0o600)
        (d / "dbus.conf").write_text(_DBUS_CONF)
        (d / "NetworkManager.conf").write_text(_NM_CONF.format(keyfiles=keyfiles, ifname="veth-nm"))
        launch = d / "launch.sh"
        launch.write_text(_LAUNCH)
        self.nm = self.lab.spawn(
            self.ns,
            ["unshare", "-m", "--propagation", "private", "sh", str(launch), str(d)],
            log=d / "nm.log",
        )
        bus = f"/proc/{self.nm.pid}/root/run/dbus/system_bus_socket"
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "LANG": "C",
            "HOME": str(d / "home"),
            "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={bus}",
        }
        (d / "home").mkdir()
        if not wait_until(lambda: self._nmcli("-t", "-f", "RUNNING", "general", check=False)
                          .stdout.strip() == "running" or self.nm_exited(), 20):  # fmt: skip
            raise BenchError(f"NetworkManager did not start: {self._log_tail()}")
        self._nmcli("connection", "up", "bench-nm-base", timeout=20)
        # The server is bound to A's first address: reach it through A (the tunnel's own
        # addresses go through the VPN once it is up).
        subprocess.run(
            [*ip, "-n", self.ns, "route", "replace", f"{self.pair.addr_a}/32", "via", a_addr],
            check=True,
            capture_output=True,
        )
        self._import()

    def _import(self) -> None:
        """Import the connection to time (named :data:`CONNECTION`)."""
        raise NotImplementedError

    def nm_exited(self) -> bool:
        return self.nm is None or self.nm.poll() is not None

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return (self.work / "nm.log").read_text(errors="replace")[-3000:]
        return "(no log)"

    def _nmcli(
        self, *args: str, timeout: float = 30, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        res = subprocess.run(
            ["nmcli", *args], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise BenchError(
                f"nmcli {' '.join(args)}: {res.stderr.strip() or res.stdout.strip()}\n"
                f"NetworkManager's log:\n{self._log_tail()}"
            )
        return res

    def stop(self) -> None:
        if self.nm is not None:
            self.lab.stop(self.nm)
        with contextlib.suppress(OSError, ValueError):
            pid = int((self.work / "dbus.pid").read_text())
            os.kill(pid, 15)
        # Whatever is left in the namespace (the bus, a plugin) goes with lab.close().


@dataclass
class NmOpenVpn(NmLab):
    """NetworkManager's imported OpenVPN connection; ``dial``/``hang_up`` time one
    activation each, as ``RawOpenVpn`` does for the raw program."""

    profile: Path = Path()
    openvpn_pid: int | None = None

    def _import(self) -> None:
        self._nmcli("connection", "import", "type", "openvpn", "file", str(self.profile))
        self._nmcli("connection", "modify", self.profile.stem, "connection.id", CONNECTION)
        self._nmcli(
            "connection", "modify", CONNECTION, "connection.autoconnect", "no",
            "vpn.user-name", OVPN_USER, "+vpn.data", "password-flags=0",
            "vpn.secrets", f"password={OVPN_PASSWORD}",
        )  # fmt: skip

    def _openvpn_in_ns(self) -> int | None:
        """NM's openvpn (the plugin's child) in NM's namespace."""
        ino = os.stat(f"/run/netns/{self.ns}").st_ino
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if os.stat(f"/proc/{entry.name}/ns/net").st_ino != ino:
                    continue
                with open(f"/proc/{entry.name}/comm") as fh:
                    if fh.read().strip() == "openvpn":
                        return int(entry.name)
            except OSError:
                continue
        return None

    def dial(self) -> float:
        t0 = time.perf_counter()
        self._nmcli("connection", "up", CONNECTION, timeout=30)
        took = time.perf_counter() - t0
        self.openvpn_pid = self._openvpn_in_ns()
        if self.openvpn_pid is None:
            raise BenchError("nmcli up returned but NM's openvpn is not running")
        return took

    def hang_up(self) -> float:
        pid = self.openvpn_pid
        t0 = time.perf_counter()
        self._nmcli("connection", "down", CONNECTION, timeout=30)
        with self.lab.inside(self.ns):
            gone = wait_until(lambda: _gone(pid) and not _has_tun(), 15, interval=POLL)
        took = time.perf_counter() - t0
        if not gone:
            raise BenchError("NM's openvpn or its tun was still there 15 s after nmcli down")
        self.openvpn_pid = None
        return took

    def cleanup(self) -> None:
        if self.openvpn_pid is not None:
            self._nmcli("connection", "down", CONNECTION, check=False)
        self.stop()


@dataclass
class NmWireGuard(NmLab):
    """NetworkManager's imported kernel WireGuard connection (``conf``: a wg-quick file whose
    name, without ``.conf``, is the interface's); ``dial`` until the first handshake."""

    conf: Path = Path()
    up: bool = False

    @property
    def ifname(self) -> str:
        return self.conf.stem

    def _import(self) -> None:
        self._nmcli("connection", "import", "type", "wireguard", "file", str(self.conf))
        self._nmcli("connection", "modify", self.ifname, "connection.id", CONNECTION,
                    "connection.autoconnect", "no")  # fmt: skip

    def dial(self) -> float:
        from openras.links.wireguard.genl import WgNetlink

        t0 = time.perf_counter()
        self._nmcli("connection", "up", CONNECTION, timeout=60)
        self.up = True
        with self.lab.inside(self.ns), WgNetlink() as genl:
            shook = wait_until(
                lambda: genl.device(self.ifname).latest_handshake > 0, 60, interval=POLL
            )
        took = time.perf_counter() - t0
        if not shook:
            raise BenchError("NetworkManager's WireGuard had no handshake in 60 s")
        return took

    def hang_up(self) -> float:
        from openras.links.rtnl import if_index

        t0 = time.perf_counter()
        self._nmcli("connection", "down", CONNECTION, timeout=60)
        self.up = False
        with self.lab.inside(self.ns):
            gone = wait_until(lambda: if_index(self.ifname) is None, 30, interval=POLL)
        took = time.perf_counter() - t0
        if not gone:
            raise BenchError(f"NetworkManager's {self.ifname} stayed 30 s after nmcli down")
        return took

    def cleanup(self) -> None:
        if self.up:
            self._nmcli("connection", "down", CONNECTION, check=False)
        self.stop()


def _gone(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        return True


def _has_tun() -> bool:
    """A tun in the calling thread's namespace (NM's plugin names it tun0 or next)."""
    return any(name.startswith("tun") for _, name in socket.if_nameindex())
