"""IKEv2 for the link benchmark: the test responder, and charon driven by hand.

The raw side does what openras's ikev2 driver does, by hand and as directly as a script
could: spawn a charon of its own (private ``/run``, the same plugins, random local ports,
kernel-libipsec), wait for its VICI socket, load the CA, the EAP secret and the connection
with strongSwan's own ``vici`` package, ``initiate`` (which returns once the CHILD SA is
installed); hang-up: SIGTERM → charon exits (it sends the DELETE and removes its TUN).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import vici
from _netlab import RAW_POLL, BenchError, NetnsLab, wait_exit
from swan_lab import CHARON, PASSWORD, USER

from openras.links.ikev2.config import ESP_PROPOSALS, IKE_PROPOSALS, PLUGINS


def raw_conf(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "run").mkdir(exist_ok=True)
    conf = d / "strongswan.conf"
    conf.write_text(
        "charon {\n  load_modular = no\n"
        f"  load = {PLUGINS}\n  port = 0\n  port_nat_t = 0\n  install_virtual_ip = yes\n"
        f"  plugins {{ vici {{ socket = unix://{d / 'charon.vici'} }}\n"
        "            openssl { load_legacy = yes }\n"
        f"            resolve {{ file = {d / 'resolv.conf'} }} }}\n"
        f"  filelog {{ raw {{ path = {d / 'charon.log'}\n default = 1\n flush_line = yes }} }}\n"
        "  syslog { daemon { default = -1 } }\n}\n"
    )
    return conf


@dataclass
class RawCharon:
    """A charon of its own per dial, configured over VICI, inside namespace B."""

    lab: NetnsLab
    ns: str
    workdir: Path
    server: str
    ca: bytes
    proc: subprocess.Popen[bytes] | None = None

    def dial(self, timeout: float = 15.0) -> float:
        conf = raw_conf(self.workdir)
        vici_path = self.workdir / "charon.vici"
        vici_path.unlink(missing_ok=True)
        with self.lab.inside(self.ns):
            deadline = time.monotonic() + timeout
            t0 = time.perf_counter()
            with open(self.workdir / "charon.out", "ab") as out:
                self.proc = subprocess.Popen(
                    ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                     'mount --bind -- "$0" /run && exec "$@"', str(self.workdir / "run"), CHARON],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                    env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "STRONGSWAN_CONF": str(conf)},
                )  # fmt: skip
            self.lab.procs.append(self.proc)
            sock = socket.socket(socket.AF_UNIX)
            while True:
                try:
                    sock.connect(str(vici_path))
                    break
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        raise BenchError("raw charon did not open its VICI socket") from None
                    time.sleep(RAW_POLL)
            session = vici.Session(sock)
            session.load_cert({"type": "x509", "flag": "CA", "data": self.ca})
            session.load_shared({"id": "eap", "type": "EAP", "data": PASSWORD, "owners": [USER]})
            session.load_conn({"raw": {
                "version": "2", "remote_addrs": [self.server], "vips": ["0.0.0.0"],
                "proposals": list(IKE_PROPOSALS), "keyingtries": "1",
                "local-1": {"auth": "eap-mschapv2", "eap_id": USER},
                "remote-1": {"auth": "pubkey", "id": self.server},
                "children": {"raw": {"remote_ts": ["0.0.0.0/0"],
                                     "esp_proposals": list(ESP_PROPOSALS)}},
            }})  # fmt: skip
            for _log in session.initiate({"child": "raw", "ike": "raw", "timeout": "15000"}):
                pass
            took = time.perf_counter() - t0
            sock.close()
            return took

    def hang_up(self) -> float:
        assert self.proc is not None
        t0 = time.perf_counter()
        self.proc.send_signal(signal.SIGTERM)
        wait_exit(self.proc)
        took = time.perf_counter() - t0
        self.lab.procs.remove(self.proc)
        self.proc = None
        return took

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.lab.stop(self.proc)
