"""The PPP link: pppd for Windows' modem, serial, ISDN, PPPoE and PPTP entries.

Chosen by the Windows keys alone (``DEVICE=modem``/``isdn``/``serial``, ``DEVICE=PPPoE``,
``DEVICE=vpn`` with ``VpnStrategy`` 1/2/12, or ``Type=1``/``Type=5`` without a DEVICE
block); the Linux side of the device is named by::

    OpenRasPppoeInterface=eth0     PPPoE: the Ethernet interface (default: the only wired one)
    OpenRasSerialPort=/dev/ttyUSB0 modem: the serial port (required; opened as the owner first)
    OpenRasSerialSpeed=115200      modem: the port's speed
    OpenRasSerialLocal=0           modem: 1 = no modem control lines (a null-modem, a pty)
    IdleDisconnectSeconds=0        Windows' key: pppd's ``idle`` (no traffic for N s: 926)
    OpenRasDialTimeoutMs=15000

The program is ``pppd nodetach ... logfile RUN_DIR/pppd.log`` with an argv built by
:mod:`openras.links.ppp.argv` from the checked entry (never the entry's text for pppd's own
parser, never ``/etc/ppp/peers``); the interface is ``orppp<handle>`` (pppd's ``ifname``) and
the link name ``openras-<handle>``. The password goes through the ``passwordfd`` plugin from
a memfd pppd inherits. PPPoE uses pppd's kernel-mode ``rp-pppoe.so`` plugin; a modem dials
with a chat script the daemon writes (``ATZ``, ``ATDT<PhoneNumber>``, ``CONNECT``). PPTP
runs ``pptp <PhoneNumber> --nolaunchpppd`` as pppd's ``pty`` (MS-CHAPv2, MPPE-128 per
``DataEncryption``); the driver watches the TCP table for the control connection (pptp says
so only to syslog) and, at the close, waits for pptp's processes (they carry the link's
marker) to leave after pppd, killing any still there. SSTP (``VpnStrategy`` 5/6) runs
``sstpc --nolaunchpppd <PhoneNumber>`` as the ``pty`` with ``sstp-pppd-plugin.so``
(MS-CHAPv2, no MPPE); the server's certificate must chain to the system's CAs or to::

    OpenRasSstpCaFile=/path/ca.pem SSTP: the server's CA (read as the caller; a root-owned
                                   copy in the link's run directory is what sstpc reads)

Everything the dial reports comes from pppd's log (``debug``), read by the sans-IO
:class:`openras.links.ppp.interpreter.PppLog`: the states, IPCP's addresses and DNS, LCP's
authentication protocol, the failure (691 from the log line, not the racy exit status).
pppd's ``ip-up``/``ip-down`` scripts are pointed at ``/bin/true``: the system's scripts do
not run (the daemon applies DNS itself) and no script talks back to the daemon. Connected is
IPCP's two addresses in the log and the interface present.

No PPP in the kernel (no ``/dev/ppp`` after ``modprobe ppp_generic``; for PPPoE no
``AF_PPPOX`` after ``modprobe pppoe``) fails the dial before anything starts, naming what is
missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Final

from openras import asuser
from openras.errors import (
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_INVALID_PARAMETER,
    ERROR_NO_LOCAL_ENCRYPTION,
    ERROR_PORT_NOT_AVAILABLE,
    ERROR_PORT_OR_DEVICE,
    RasError,
)
from openras.links._common import (
    HELPER_ENV,
    find_program,
    interface_stats,
    link_exists,
    no_op_program,
    password_fd,
    program_path,
    resolve_entry_path,
)
from openras.links._owner_files import read_owner_file, write_private
from openras.links.base import (
    Emit,
    Link,
    LinkSpec,
    LinkStats,
    NumberDialed,
    Projection,
    StateReached,
)
from openras.links.ikev2.settings import pem_certificates, system_ca_bundle
from openras.links.journal import File, Interface
from openras.links.ppp.argv import PppSettings, build_argv, chat_script, sstp_socket
from openras.links.ppp.interpreter import (
    PppLog,
    classify_exit,
    deadline_code,
    pptp_control_seen,
)
from openras.links.ppp.sstp_check import check_server_certificate
from openras.links.process import LinkProcess, ProcessIdentity, marked_processes
from openras.links.progress import LogTail, Progress
from openras.links.supervisor import SupervisedLink, stopped_before_start
from openras.states import RasConnState

_LOG: Final = "pppd.log"
_SSTP_CA: Final = "sstp-ca.pem"
_CHAT: Final = "chat"
_POLL: Final = 0.02
_AF_PPPOX: Final = 24
_PX_PROTO_OE: Final = 0
_IFNAMSIZ: Final = 15
_RUN: Final = Path("/var/run")
#: How often a PPTP dial looks for its control connection in the TCP table.
_TCP_POLL: Final = 0.25
#: How long pptp's processes may take to leave after pppd (the call manager clears the call
#: and the control connection) before they are killed.
_PPTP_GRACE: Final = 5.0


def _mppe_present() -> bool:
    """ppp_mppe is loaded or built in (it has no /dev node to look for)."""
    if Path("/sys/module/ppp_mppe").exists():
        return True
    try:
        builtin = Path("/lib/modules", os.uname().release, "modules.builtin").read_text()
    except OSError:
        return False
    return "/ppp_mppe.ko" in builtin


def _kernel_gaps(kind: str, *, mppe: bool = False) -> list[str]:
    """What of PPP this kernel lacks for ``kind`` (empty: nothing)."""
    gaps = []
    if not Path("/dev/ppp").exists():
        gaps.append("PPP (ppp_generic: /dev/ppp is missing)")
    if mppe and not _mppe_present():
        gaps.append("MPPE (ppp_mppe)")
    if kind == "pppoe":
        try:
            socket.socket(_AF_PPPOX, socket.SOCK_STREAM, _PX_PROTO_OE).close()
        except OSError as exc:
            if exc.errno in (errno.EAFNOSUPPORT, errno.EPROTONOSUPPORT, errno.EINVAL):
                gaps.append("PPPoE (pppoe: no AF_PPPOX sockets)")
    return gaps


def check_kernel(kind: str, *, mppe: bool = False) -> None:
    """RasError(797) naming what the kernel lacks, after one try to load the modules; 741
    when only MPPE, which the entry requires, is missing."""
    gaps = _kernel_gaps(kind, mppe=mppe)
    if not gaps:
        return
    modules = ["ppp_generic", "pppoe" if kind == "pppoe" else "ppp_async"]
    if mppe:
        modules.append("ppp_mppe")
    why = ""
    modprobe = None
    with contextlib.suppress(RasError):
        modprobe = find_program("modprobe")
    if modprobe is not None and os.geteuid() == 0:
        for module in modules:
            try:
                res = subprocess.run(
                    [modprobe, module], capture_output=True, text=True, timeout=20, env=HELPER_ENV
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                why = f"; modprobe {module}: {exc}"
                break
            if res.returncode != 0:
                why = f"; modprobe {module}: {' '.join(res.stderr.split()) or res.returncode}"
                break
        gaps = _kernel_gaps(kind, mppe=mppe)
        if not gaps:
            return
    elif modprobe is None:
        why = "; no modprobe to load it"
    needs = " and CONFIG_PPPOE" if kind == "pppoe" else " and CONFIG_PPP_ASYNC"
    if mppe:
        needs += " and CONFIG_PPP_MPPE"
    code = ERROR_CONNECTING_DEVICE_NOT_FOUND
    if gaps == ["MPPE (ppp_mppe)"]:
        code = ERROR_NO_LOCAL_ENCRYPTION  # the entry requires encryption this kernel lacks
    raise RasError(
        code,
        f"this kernel ({os.uname().release}) has no kernel support for "
        f"{' and '.join(gaps)}{why}: PPP links need CONFIG_PPP{needs}",
    )


def _check_serial_port(settings: PppSettings, owner_uid: int) -> None:
    """The owner may use the port: opened (and closed) with the owner's rights, so a
    user's entry cannot make root dial out on a port the user has no access to."""
    flags = os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK | os.O_CLOEXEC
    try:
        fd = asuser.open_as(owner_uid, settings.serial_port, flags)
    except OSError as exc:
        code = ERROR_PORT_NOT_AVAILABLE if exc.errno == errno.EBUSY else ERROR_PORT_OR_DEVICE
        raise RasError(
            code, f"OpenRasSerialPort={settings.serial_port}: {exc.strerror or exc}"
        ) from None
    os.close(fd)


def _sstp_ca(spec: LinkSpec, settings: PppSettings) -> bytes:
    """The PEM certificates of the CA file an SSTP entry names, read as the caller (root's
    only with the administrator's saved credentials); b"" when it names none."""
    if not settings.sstp_ca_file:
        return b""
    path = resolve_entry_path(spec, "OpenRasSstpCaFile", settings.sstp_ca_file)
    reader = 0 if spec.grant.admin_credentials else spec.owner_uid
    data = read_owner_file(path, reader, code=ERROR_INVALID_PARAMETER, what="SSTP CA file")
    pem = b"".join(pem_certificates(data))
    if not pem:
        raise RasError(ERROR_INVALID_PARAMETER, f"OpenRasSstpCaFile={path}: no PEM certificate")
    return pem


def _marked_exactly(marker: str) -> list[ProcessIdentity]:
    """Live processes whose ``OPENRAS_LINK`` is ``marker`` (not only starts with it)."""
    return marked_processes(lambda value: value == marker)


def interface_name(handle: int) -> str:
    name = f"orppp{handle}"
    return name if len(name) <= _IFNAMSIZ else f"orppp{handle % 10**10}"


class PppLink(SupervisedLink[PppSettings]):
    """pppd as a RAS link."""

    driver: ClassVar[str] = "ppp"
    device_type: ClassVar[str] = "ppp"
    device_name: ClassVar[str] = "pppd"
    #: SIGTERM is pppd's clean stop (LCP Terminate-Request): no other graceful stop.
    term_after: ClassVar[float | None] = None

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._settings: PppSettings | None = None
        self._log = PppLog()
        self._log_tail = LogTail(self._path(_LOG))
        self._progress = Progress()  # the states emitted
        self._ifname = interface_name(spec.handle)
        self._kind = ""

    def __repr__(self) -> str:
        reached = self._progress.reached
        state = reached.name if reached is not None else "new"
        return f"<PppLink handle={self.spec.handle} {self._ifname} {state}>"

    # -- checks -----------------------------------------------------------------------------

    @classmethod
    def validate(cls, spec: LinkSpec) -> PppSettings:
        settings = PppSettings.from_spec(spec)
        find_program("pppd")
        if settings.kind == "modem":
            find_program("chat")
            _check_serial_port(settings, spec.owner_uid)
        if settings.kind == "pptp":
            find_program("pptp")
        if settings.kind == "sstp":
            find_program("sstpc")
            settings = dataclasses.replace(settings, sstp_ca_pem=_sstp_ca(spec, settings))
        check_kernel(settings.kind, mppe=settings.kind == "pptp" and settings.mppe != "refuse")
        return settings

    def _path(self, name: str) -> Path:
        return self.spec.run_dir / name

    # -- start ------------------------------------------------------------------------------

    async def _launch(self, prepared: PppSettings) -> None:
        settings = self._settings = prepared
        self._kind = settings.kind
        self._log = PppLog(settings.kind)
        pppd = find_program("pppd")
        if link_exists(self._ifname):
            raise RasError(ERROR_PORT_NOT_AVAILABLE, f"interface {self._ifname} exists already")
        chat_file = None
        chat = "/usr/sbin/chat"
        if settings.kind == "modem":
            chat = find_program("chat")
            chat_file = self._path(_CHAT)
            write_private(chat_file, chat_script(settings).encode())
        pptp = find_program("pptp") if settings.kind == "pptp" else "/usr/sbin/pptp"
        sstpc = find_program("sstpc") if settings.kind == "sstp" else "/usr/sbin/sstpc"
        sstp_ca = str(system_ca_bundle())
        if settings.kind == "sstp" and settings.sstp_ca_pem:
            sstp_ca = str(self._path(_SSTP_CA))
            write_private(Path(sstp_ca), settings.sstp_ca_pem)
        if settings.kind == "sstp":
            # sstpc checks the chain but not the name: the daemon checks both first.
            await asyncio.to_thread(
                check_server_certificate, settings.server, sstp_ca, settings.dial_timeout
            )
        no_script = no_op_program()
        linkname = f"openras-{self.spec.handle}"
        pw_fd = password_fd(settings.user, self.spec.params.password)
        try:
            argv = build_argv(
                settings, pppd=pppd, ifname=self._ifname, linkname=linkname,
                logfile=self._path(_LOG), password_fd=pw_fd, chat=chat, chat_file=chat_file,
                no_script=no_script, pptp=pptp, sstpc=sstpc, sstp_ca=sstp_ca,
            )  # fmt: skip
            if self._stopping:
                raise stopped_before_start("pppd")
            self.journal.note(Interface(self._ifname))
            self.journal.note(File(str(_RUN / f"ppp-{linkname}.pid")))
            self.journal.note(File(str(_RUN / f"{self._ifname}.pid")))
            if settings.kind == "sstp":
                self.journal.note(File(sstp_socket(linkname)))
            env = {"PATH": program_path(), "LANG": "C"}
            proc = LinkProcess.spawn(
                argv, marker=self.spec.marker, log_path=self._path("pppd.out"), env=env,
                pass_fds=() if pw_fd is None else (pw_fd,),
            )  # fmt: skip
        finally:
            if pw_fd is not None:
                os.close(pw_fd)
        self._watch_program(proc)
        self._reach(RasConnState.OpenPort)
        if settings.kind == "modem":
            self.emit(NumberDialed(settings.number))
        self._arm_dial_deadline(settings.dial_timeout)
        self._run_task = self._spawn(self._dial())

    # -- states -----------------------------------------------------------------------------

    def _reach(self, state: RasConnState) -> None:
        """Emit every state up to ``state`` not emitted yet, in order."""
        for step in self._progress.advance(state):
            self.emit(StateReached(step))

    def _read_log(self) -> None:
        self._log.feed(self._log_tail.read())
        reached = self._log.reached
        if not self._connected and reached is not None and reached != RasConnState.Connected:
            self._reach(reached)

    async def _dial(self) -> None:
        next_tcp = 0.0
        while not self._ended():
            self._read_log()
            if self._log.projected and link_exists(self._ifname):
                self._mark_connected()
                self._reach(RasConnState.Connected)
                return
            if self._kind == "pptp" and time.monotonic() >= next_tcp:
                next_tcp = time.monotonic() + _TCP_POLL
                self._look_for_control_connection()
            await asyncio.sleep(_POLL)

    def _look_for_control_connection(self) -> None:
        """PPTP: feed the interpreter the control connection's being up (this namespace's TCP
        table has it established to the server's port 1723), once."""
        if self._log.control_connected or self._settings is None:
            return
        try:
            table = Path("/proc/net/tcp").read_text()
        except OSError:
            return
        if pptp_control_seen(table, self._settings.server):
            states = self._log.control_up()
            if states and not self._connected:
                self._reach(states[-1])

    def _on_dial_deadline(self) -> None:
        self._read_log()
        if self._kind == "pptp":
            self._look_for_control_connection()
        assert self._settings is not None
        detail = f"not connected within {self._settings.dial_timeout:g} s"
        if self._log.failure is not None:
            self._finish(self._log.failure.code, f"{detail}: {self._log.failure.line}")
            return
        if self._log.last_line:
            detail += f" (pppd said: {self._log.last_line})"
        self._finish(deadline_code(self._log), detail)

    def _program_exited(self, rc: int | None) -> tuple[int, str]:
        self._read_log()
        return classify_exit(self._log, rc, connected=self._connected)

    async def _release(self) -> None:
        """PPTP, SSTP: pppd is gone; its pty's programs (pptp's GRE gateway and call manager
        clearing the call; sstpc sending its Call Disconnect) carry the link's marker and get
        a few seconds to leave, then SIGKILL."""
        if self._kind in ("pptp", "sstp"):
            await self._reap_marked()

    async def _reap_marked(self) -> None:
        """Wait (a few seconds) until no process carries the link's marker; SIGKILL the
        ones still there then."""
        deadline = time.monotonic() + _PPTP_GRACE
        while left := await asyncio.to_thread(_marked_exactly, self.spec.marker):
            if time.monotonic() >= deadline:
                for ident in left:
                    proc = LinkProcess.adopt(ident)
                    if proc is not None:
                        proc.kill()
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(proc.wait(), _PPTP_GRACE)
                return
            await asyncio.sleep(0.05)

    # -- persistence ------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        return {
            "process": self._proc.identity.to_record() if self._proc else None,
            "ifname": self._ifname,
            "kind": self._kind,
            "connected": self._connected,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        link._started = time.monotonic()
        ifname = record.get("ifname")
        if isinstance(ifname, str) and ifname:
            link._ifname = ifname
        link._kind = str(record.get("kind") or "")
        link._log = PppLog(link._kind)
        link._read_log()  # the whole log again: the negotiated facts
        proc_rec = record.get("process")
        proc = LinkProcess.adopt(ProcessIdentity.from_record(proc_rec)) if proc_rec else None
        if proc is not None:
            link._watch_program(proc, journal=False)
        if proc is None or not (link._log.projected and link_exists(link._ifname)):
            await link._abandon()
            return None
        link._mark_connected()
        link._progress.advance(RasConnState.Projected)  # (reported before the crash)
        link._reach(RasConnState.Connected)
        return link

    # -- numbers ----------------------------------------------------------------------------

    async def statistics(self) -> LinkStats:
        return interface_stats(self._ifname) or LinkStats()

    async def projection(self) -> Projection | None:
        if not self._connected:
            return None
        facts = self._log.facts
        extra = {"framing": "PPP", "kind": self._kind}
        if facts.auth_protocol:
            extra["auth_protocol"] = facts.auth_protocol
        if facts.compression:
            extra["compression"] = ", ".join(facts.compression)
        if facts.device:
            extra["device"] = facts.device
        if facts.pppoe_session:
            extra["pppoe_session"] = facts.pppoe_session
        if facts.pppoe_peer:
            extra["pppoe_peer"] = facts.pppoe_peer
        if self._settings is not None and self._settings.kind == "pppoe":
            extra["pppoe_interface"] = self._settings.pppoe_interface
        if self._settings is not None and self._settings.kind in ("pptp", "sstp"):
            extra["server"] = self._settings.server  # RASCONNSTATUS.remoteEndPoint
        mppe = [c for c in facts.compression if c.startswith("MPPE")]
        if mppe:
            extra["encryption"] = mppe[0]
        return Projection(
            interface=self._ifname,
            local_address=facts.local_address,
            remote_address=facts.remote_address,
            dns=tuple(facts.dns),
            extra=extra,
        )


__all__ = ["PppLink", "check_kernel", "interface_name"]
