"""DNS lab for link tests: a tiny DNS server, a private /etc for the daemon, and the Debian
resolvers (resolvconf, systemd-resolved) taken from their packages without installing them.

* :func:`serve` (``python dns_lab.py serve ADDR LOG NAME=IP...``) answers A queries for the
  given names (NXDOMAIN otherwise) on UDP ``ADDR:53`` and logs ``source name`` per query: the
  test reads from it that a lookup really came through the tunnel.
* :class:`PrivateRoot` is a process (``sleep infinity``) holding a mount namespace of its own
  inside the client network namespace, where ``/etc``, ``/run`` and ``/usr`` are overlays
  (or ``/etc/resolv.conf`` a bind mount) over the machine's. The daemon, resolvconf, resolved
  and the lookups all run in it (``nsenter``), so the machine's own resolver files are never
  written: writes land in the overlay's upper directories, which the test reads directly.
* :func:`debian_package` is ``apt-get download`` + ``dpkg -x`` into a temp dir: installing
  ``resolvconf`` would rewrite the machine's /etc/resolv.conf, and ``systemd-resolved``
  repoints it (breaking apt and pip here).
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from netns import NetnsLab, wait_until

# -- a DNS server -----------------------------------------------------------------------------


def _qname(packet: bytes, offset: int) -> tuple[str, int]:
    labels = []
    while True:
        n = packet[offset]
        offset += 1
        if n == 0:
            return ".".join(labels).lower(), offset
        labels.append(packet[offset : offset + n].decode("ascii", "replace"))
        offset += n


def answer(packet: bytes, names: dict[str, str]) -> bytes:
    """The reply to one query: A records for ``names``, NXDOMAIN for the rest."""
    ident, _flags, _qd = struct.unpack("!HHH", packet[:6])
    name, end = _qname(packet, 12)
    qtype = struct.unpack("!H", packet[end : end + 2])[0]
    question = packet[12 : end + 4]
    addr = names.get(name)
    if addr is None:
        return struct.pack("!HHHHHH", ident, 0x8183, 1, 0, 0, 0) + question
    if qtype != 1:  # AAAA and the rest: the name exists, no such record
        return struct.pack("!HHHHHH", ident, 0x8580, 1, 0, 0, 0) + question
    rr = struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(addr)
    return struct.pack("!HHHHHH", ident, 0x8580, 1, 1, 0, 0) + question + rr


def serve(addr: str, log: str, pairs: list[str]) -> None:
    names = dict(p.split("=", 1) for p in pairs)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    with open(log, "a", buffering=1) as out:
        out.write("ready\n")
        while True:
            data, peer = sock.recvfrom(4096)
            try:
                name, _ = _qname(data, 12)
                out.write(f"{peer[0]} {name}\n")
                sock.sendto(answer(data, names), peer)
            except (IndexError, struct.error):
                continue


@dataclass
class DnsServer:
    log: Path

    def queries(self) -> list[tuple[str, str]]:
        lines = self.log.read_text().splitlines()
        return [(ln.split()[0], ln.split()[1]) for ln in lines if ln != "ready"]


def start_dns_server(
    lab: NetnsLab, ns: str, addr: str, log: Path, names: dict[str, str]
) -> DnsServer:
    """Serve ``names`` on ``addr``:53 in ``ns`` (the address is put on ns's lo)."""
    subprocess.run(
        ["ip", "-n", ns, "addr", "add", f"{addr}/32", "dev", "lo"], check=True, timeout=10
    )
    lab.spawn(
        ns,
        [
            sys.executable,
            __file__,
            "serve",
            addr,
            str(log),
            *(f"{k}={v}" for k, v in names.items()),
        ],
    )
    assert wait_until(lambda: log.exists() and "ready" in log.read_text(), 10), (
        "DNS server did not start"
    )
    return DnsServer(log)


# -- Debian packages, unpacked only ------------------------------------------------------------


def debian_package(name: str, into: Path, version: str | None = None) -> Path | None:
    """``name`` unpacked into ``into/name`` (None when apt cannot get it)."""
    dest = into / name
    if dest.is_dir():
        return dest
    dl = into / f"{name}.dl"
    dl.mkdir(parents=True, exist_ok=True)
    spec = f"{name}={version}" if version else name
    res = subprocess.run(
        ["apt-get", "download", spec], cwd=dl, capture_output=True, timeout=120, check=False
    )
    if res.returncode != 0 and version:
        res = subprocess.run(
            ["apt-get", "download", name], cwd=dl, capture_output=True, timeout=120, check=False
        )
    debs = list(dl.glob("*.deb"))
    if res.returncode != 0 or not debs:
        return None
    subprocess.run(["dpkg", "-x", str(debs[0]), str(dest)], check=True, timeout=60)
    return dest


def installed_version(pkg: str) -> str | None:
    res = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True, check=False
    )
    return res.stdout.strip() or None


# -- a private root for the daemon ------------------------------------------------------------


@dataclass
class PrivateRoot:
    """A mount namespace (held by one process) in network namespace ``ns`` whose /etc, /run
    and /usr are overlays with upper directories under ``dir`` (``bind``: only resolv.conf is
    replaced, by a bind mount of ``dir/resolv.conf``)."""

    lab: NetnsLab
    ns: str
    dir: Path
    bind: bool = False
    holder: subprocess.Popen[bytes] | None = None
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def upper(self, path: str) -> Path:
        """Where a file written at ``path`` inside lands (``/etc/x`` -> upper/etc/x)."""
        return self.dir / "upper" / path.lstrip("/")

    def prepare(self) -> None:
        for top in ("etc", "run", "usr"):
            (self.dir / "upper" / top).mkdir(parents=True, exist_ok=True)
            (self.dir / "work" / top).mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        if self.bind:
            mounts = f"mount --bind {self.dir / 'resolv.conf'} /etc/resolv.conf"
        else:
            mounts = " && ".join(
                f"mount -t overlay overlay -o lowerdir=/{t},upperdir={self.dir / 'upper' / t},"
                f"workdir={self.dir / 'work' / t} /{t}"
                for t in ("etc", "run", "usr")
            )
        script = f"set -e; {mounts}; echo mounted; exec sleep infinity"
        self.holder = self.lab.spawn(
            self.ns,
            ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
            stdout=subprocess.PIPE,
        )
        assert self.holder.stdout is not None
        line = self.holder.stdout.readline()
        assert line.strip() == b"mounted", f"private root not mounted ({line!r})"

    def argv(self, *cmd: str) -> list[str]:
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "-n", *cmd]

    def spawn(
        self, cmd: list[str], *, log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Run ``cmd`` inside (the lab tracks its pid; it lives in ``ns``, so the lab's
        cleanup finds whatever it leaves)."""
        fh = open(log, "ab")  # noqa: SIM115 - the lab closes it
        self.lab._logs.append(fh)
        proc = subprocess.Popen(
            self.argv(*cmd), stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
            env=env, start_new_session=True,
        )  # fmt: skip
        self.lab.procs.append(proc)
        return proc

    def run(self, *cmd: str, timeout: float = 15.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.argv(*cmd), capture_output=True, text=True, timeout=timeout, check=False
        )

    def read(self, path: str) -> bytes:
        return subprocess.run(
            self.argv("cat", path), capture_output=True, timeout=10, check=True
        ).stdout

    def lookup(self, name: str) -> str | None:
        """``getent hosts name`` inside (glibc, with the resolv.conf seen there)."""
        res = self.run("getent", "hosts", name)
        return res.stdout.split()[0] if res.returncode == 0 and res.stdout.split() else None


BUS_CONF = """<busconfig>
  <type>system</type>
  <listen>unix:path={sock}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/> <allow own="*"/> <allow send_destination="*"/> <allow receive_sender="*"/>
  </policy>
</busconfig>
"""


def install_resolvconf(root: PrivateRoot, pkg: Path, original: str) -> None:
    """resolvconf's files in the overlay, set up as its postinst and boot script would:
    /etc/resolv.conf a link to /run/resolvconf/resolv.conf, updates enabled, and the
    machine's resolver as the record of the uplink."""
    shutil.copytree(pkg / "etc" / "resolvconf", root.upper("/etc/resolvconf"))
    shutil.copytree(pkg / "lib" / "resolvconf", root.upper("/usr/lib/resolvconf"))
    (root.upper("/usr/sbin")).mkdir(parents=True, exist_ok=True)
    shutil.copy2(pkg / "sbin" / "resolvconf", root.upper("/usr/sbin/resolvconf"))
    iface = root.upper("/run/resolvconf/interface")
    iface.mkdir(parents=True)
    (iface / "veth-b.inet").write_text(original)
    root.upper("/run/resolvconf/enable-updates").write_text("")
    root.upper("/etc/resolv.conf").symlink_to("/run/resolvconf/resolv.conf")


def install_resolved(root: PrivateRoot) -> None:
    """The user resolved drops to, its config (no fallback servers, no LLMNR/mDNS), and
    /etc/resolv.conf pointing at its stub, in the overlay."""
    for name, line in (
        ("passwd", "systemd-resolve:x:990:990::/:/usr/sbin/nologin\n"),
        ("group", "systemd-resolve:x:990:\n"),
    ):
        root.upper(f"/etc/{name}").write_text(Path(f"/etc/{name}").read_text() + line)
    conf = root.upper("/etc/systemd/resolved.conf")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("[Resolve]\nFallbackDNS=\nLLMNR=no\nMulticastDNS=no\nDNSSEC=no\n")
    root.upper("/etc/resolv.conf").symlink_to("/run/systemd/resolve/stub-resolv.conf")


if __name__ == "__main__":
    if len(sys.argv) >= 4 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3], sys.argv[4:])
