"""The L2TP/IPsec link: charon (IPsec, transport mode), then xl2tpd running pppd.

Chosen by the Windows keys alone (``DEVICE=vpn`` with ``VpnStrategy`` 3, 4 or 13, or the L2TP
miniport as the entry's device), so a Windows export dials unchanged. Every file and message
the programs get is built by :mod:`openras.links.ppp.l2tp` from the checked entry; this
module runs them:

1. **IPsec** (unless ``DataEncryption=0``): a charon of the link's own, in a mount namespace
   with the run directory over ``/run`` (as the IKEv2 link runs one), loaded over VICI with
   the entry's pre-shared key, or its machine certificate, private key and CA (files read
   as the dialing user; the contents never a file or argv), and an IKEv1 connection whose
   one transport-mode CHILD protects UDP to the server's port 1701. Its SAs and policies carry a
   reqid of the link's (:func:`openras.links.ppp.l2tp.reqid_for`), journaled first, so a
   SIGKILLed charon's are purged at the teardown.
2. **L2TP and PPP**: xl2tpd in the foreground with the daemon's config, its control pipe in
   the run directory, dialed with ``c openras``; it runs pppd (the kernel's L2TP where the
   kernel has it) with the daemon's options file, the password through the ``passwordfd``
   plugin from a memfd xl2tpd inherits and passes on. pppd's log is read by the same
   interpreter as every PPP link's (:class:`openras.links.ppp.interpreter.PppLog`).

The hang-up is the clean one at each layer: SIGTERM to pppd (LCP Terminate), xl2tpd closes
the call, then xl2tpd gets SIGTERM (StopCCN), then charon (IKE DELETE). Status answers 6 only
when all three are gone and the journal has run (the interface, pid files, SAs, policies).

States: OpenPort (charon or xl2tpd started), PortOpened (charon loaded), ConnectDevice (IPsec
up, the L2TP call asked for), DeviceConnected (pppd's channel connected), then PPP's.
Codes: IKE failures as Windows gives them for L2TP (789: wrong PSK or no proposal; 809: no
answer; with certificates 766 none named, 786 the server refused ours, 787 the server's not
from the CA, 835 the server's not naming the server dialed), an L2TP tunnel nobody answers
809, PPP's own (691, 734...).

Every file the link's programs create in the run directory is 0600 (they run with umask 077);
the daemon's own are made 0600.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import re
import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Final

from openras.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_CONNECTING_DEVICE_NOT_FOUND,
    ERROR_INVALID_PARAMETER,
    ERROR_INVALID_SERVER_CERT,
    ERROR_LINK_FAILURE,
    ERROR_NO_CERTIFICATE,
    ERROR_PORT_NOT_AVAILABLE,
    ERROR_RASMAN_CANNOT_INITIALIZE,
    ERROR_VPN_TIMEOUT,
    RasError,
)
from openras.links._common import (
    dial_timeout,
    entry_bool,
    entry_int,
    find_program,
    link_exists,
    no_op_program,
    password_fd,
    program_path,
)
from openras.links._owner_files import write_private
from openras.links.base import Emit, Link, LinkSpec, Projection, RecordChanged
from openras.links.ikev2.driver import _MOUNT_AND_EXEC, find_charon
from openras.links.ikev2.vici import ViciClosed, ViciConnection, ViciError
from openras.links.journal import File, Interface, Process, XfrmReqid
from openras.links.ppp import l2tp
from openras.links.ppp.argv import check_vpn_auth, dial_server, dial_user
from openras.links.ppp.driver import _RUN, PppLink
from openras.links.ppp.interpreter import PppLog, classify_exit, deadline_code
from openras.links.process import LinkProcess, ProcessIdentity, proc_start
from openras.links.progress import LogTail
from openras.links.supervisor import LinkFailure, stopped_before_start
from openras.states import RasConnState

_CHARON_CONF: Final = "strongswan.conf"
_CHARON_LOG: Final = "charon.log"
_VICI: Final = "charon.vici"
_XL2TPD_CONF: Final = "xl2tpd.conf"
_PPP_OPTIONS: Final = "pppd.options"
_CONTROL: Final = "l2tp-control"
#: The programs' files 0600: charon's and pppd's logs, xl2tpd's pid file and control pipe.
_UMASK: Final = "umask 077 && "
#: RASEO2_DisableIKENameEkuCheck in OpenRasOptions2 (as the IKEv2 link reads it).
_RASEO2_DISABLE_NAME_CHECK: Final = 0x40000
#: How often the dial reads pppd's log (a few small reads; a 20 ms poll cost 10 ms a dial on average).
_POLL: Final = 0.005
#: How long each program may take to leave after its clean stop before the next step.
_GRACE: Final = 5.0
#: ERROR_VPN_TIMEOUT's sibling for L2TP: "the L2TP connection attempt failed because the
#: remote computer did not respond" (809, as for IKE).
_NO_ANSWER: Final = ERROR_VPN_TIMEOUT
_FILE_LINE: Final = re.compile(r"^\S+ \d+\[\w+\] (.*)$")
#: xl2tpd's own lines that end a dial (its stderr in the foreground).
_XL2TPD_FAILURES: Final = (
    (re.compile(r"Maximum retries exceeded for tunnel"), _NO_ANSWER),
    (re.compile(r"Unable to open|Unable to bind|unable to allocate"), ERROR_RASMAN_CANNOT_INITIALIZE),
)  # fmt: skip


@dataclass(frozen=True)
class L2tpDial:
    """One L2TP dial, checked: the tunnel (server, IPsec, PSK; the reqid once the link has
    its handle) and pppd's user."""

    tunnel: l2tp.L2tpSettings
    user: str
    dial_timeout: float


def dial_from_spec(spec: LinkSpec) -> L2tpDial:
    """The dial's typed model from the entry and the dial's parameters (pure but for the
    name checks)."""
    entry = spec.entry
    if not l2tp.is_l2tp(entry):
        raise RasError(
            ERROR_CONNECTING_DEVICE_NOT_FOUND,
            f"entry {entry.name!r} is not an L2TP entry (VpnStrategy 3, 4 or 13)",
        )
    check_vpn_auth(entry, "L2TP")  # pppd over L2TP authenticates with MS-CHAPv2 only
    ipsec = l2tp.entry_ipsec(entry)
    server = dial_server(spec, "L2TP")
    if ipsec and l2tp.entry_auth(entry) == l2tp.AUTH_CERT:
        tunnel = _cert_tunnel(spec, server)
    else:
        tunnel = l2tp.L2tpSettings(
            server=server, ipsec=ipsec, psk=l2tp.check_psk(spec.params.psk) if ipsec else ""
        )
    return L2tpDial(tunnel=tunnel, user=dial_user(spec), dial_timeout=dial_timeout(entry))


def _cert_tunnel(spec: LinkSpec, server: str) -> l2tp.L2tpSettings:
    """The certificate-mode tunnel: the files the entry names, read as the dialing user
    (the IKEv2 link's readers; root's for the administrator's saved credentials), checked."""
    from openras.links.ikev2.settings import read_cas, read_machine_cert

    entry = spec.entry
    if not (entry.get("OpenRasL2tpCert") or "").strip():
        raise RasError(
            ERROR_NO_CERTIFICATE,
            "this L2TP entry authenticates IPsec with certificates (IpSecFlags=0) and names no "
            "machine certificate: set OpenRasL2tpCert= and OpenRasL2tpKey= to your PEM "
            "certificate and private key (files only you can read) and OpenRasL2tpCa= to the "
            "server's CA, or set IpSecFlags=1 to use the server's pre-shared key instead",
        )
    certs, key, key_type = read_machine_cert(
        spec, cert_key="OpenRasL2tpCert", key_key="OpenRasL2tpKey",
        no_cert=ERROR_NO_CERTIFICATE, no_key=ERROR_NO_CERTIFICATE,
    )  # fmt: skip
    cas, source = read_cas(spec, "OpenRasL2tpCa")
    if not cas:
        raise RasError(
            ERROR_INVALID_PARAMETER,
            f"no CA certificate to check the L2TP server with ({source} has none): set "
            "OpenRasL2tpCa= to the CA's PEM file",
        )
    options2 = entry_int(entry, "OpenRasOptions2", 0, maximum=2**32 - 1)
    name_check = not (
        entry_bool(entry, "DisableIKENameEkuCheck") or options2 & _RASEO2_DISABLE_NAME_CHECK
    )
    if not name_check and spec.grant.admin_credentials:
        raise RasError(
            ERROR_ACCESS_DENIED,
            "the administrator's saved credentials go only to a server whose certificate "
            "names it: DisableIKENameEkuCheck must be 0",
        )
    return l2tp.L2tpSettings(
        server=server, ipsec=True, auth=l2tp.AUTH_CERT,
        remote_id=server.strip("[]") if name_check else "%any",
        cas=cas, certs=certs, key=key, key_type=key_type,
    )  # fmt: skip


def xl2tpd_failure(line: str) -> int | None:
    """The RAS code an xl2tpd line means for the dial (None: not a failure). Pure."""
    for pattern, code in _XL2TPD_FAILURES:
        if pattern.search(line):
            return code
    return None


class L2tpLink(PppLink):
    """charon + xl2tpd + pppd as one RAS link (xl2tpd is the supervised program)."""

    driver: ClassVar[str] = "l2tp"
    device_type: ClassVar[str] = "vpn"
    device_name: ClassVar[str] = "WAN Miniport (L2TP)"
    #: pppd's SIGTERM is the graceful stop; xl2tpd gets SIGTERM this much later at most.
    term_after: ClassVar[float | None] = 3.0

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._kind = "l2tp"
        self._log = PppLog("l2tp")
        self._dial_cfg: L2tpDial | None = None
        self._charon: LinkProcess | None = None
        self._pppd: LinkProcess | None = None
        self._control: ViciConnection | None = None
        self._charon_tail = LogTail(self._path(_CHARON_LOG))
        self._xl2tpd_tail = LogTail(self._path("xl2tpd.out"))
        self._ike_failure: tuple[int, str] | None = None
        self._ike_answered = False  # charon received something from the server
        self._ipsec = False

    def __repr__(self) -> str:
        reached = self._progress.reached
        state = reached.name if reached is not None else "new"
        return f"<L2tpLink handle={self.spec.handle} {self._ifname} {state}>"

    # -- checks -----------------------------------------------------------------------------

    @classmethod
    def validate(cls, spec: LinkSpec) -> L2tpDial:  # type: ignore[override]
        dial = dial_from_spec(spec)
        find_program("pppd")
        find_program("xl2tpd")
        if dial.tunnel.ipsec:
            find_charon()
            find_program("unshare")
        _load_modules(dial.tunnel.ipsec)
        l2tp.check_kernel(dial.tunnel.ipsec)
        return dial

    # -- start ------------------------------------------------------------------------------

    async def _launch(self, prepared: L2tpDial) -> None:  # type: ignore[override]
        # (the checks ran before the handle existed: the reqid is the link's from here)
        tunnel = replace(prepared.tunnel, reqid=l2tp.reqid_for(self.spec.handle))
        prepared = self._dial_cfg = replace(prepared, tunnel=tunnel)
        self._ipsec = prepared.tunnel.ipsec
        if link_exists(self._ifname):
            raise RasError(ERROR_PORT_NOT_AVAILABLE, f"interface {self._ifname} exists already")
        linkname = f"openras-{self.spec.handle}"
        self.journal.note(Interface(self._ifname))
        self.journal.note(File(str(_RUN / f"ppp-{linkname}.pid")))
        self.journal.note(File(str(_RUN / f"{self._ifname}.pid")))
        if self._ipsec:
            self._start_charon(prepared)
        self._reach(RasConnState.OpenPort)
        self._arm_dial_deadline(prepared.dial_timeout)
        self._run_task = self._spawn(self._dial_l2tp(prepared))

    def _start_charon(self, dial: L2tpDial) -> None:
        """charon in its own mount namespace (its pid file is compiled in), journaled with
        the purge of whatever SAs and policies end up carrying the link's reqid."""
        charon, unshare, sh = find_charon(), find_program("unshare"), find_program("sh")
        run = self._path("run")
        run.mkdir(mode=0o700, exist_ok=True)
        write_private(
            self._path(_CHARON_CONF),
            l2tp.strongswan_conf(
                vici_socket=self._path(_VICI), log_file=self._path(_CHARON_LOG),
                dial_timeout=dial.dial_timeout,
            ).encode(),
        )  # fmt: skip
        self.journal.note(XfrmReqid(dial.tunnel.reqid))
        no_op = next((p for p in ("/bin/true", "/usr/bin/true") if os.access(p, os.X_OK)), "")
        env = {
            "PATH": program_path(),
            "LANG": "C",
            "STRONGSWAN_CONF": str(self._path(_CHARON_CONF)),
        }
        argv = [unshare, "--mount", "--propagation", "private", sh, "-c",
                _UMASK + _MOUNT_AND_EXEC, str(run), no_op or "/bin/true", charon]  # fmt: skip
        if self._stopping:
            raise stopped_before_start("charon")
        proc = LinkProcess.spawn(
            argv, marker=self.spec.marker, log_path=self._path("charon.out"), env=env
        )
        self.journal.note(Process(proc.pid, proc.identity.create_time))
        self._charon = proc
        self._spawn(self._watch_helper(proc, "charon"))

    async def _dial_l2tp(self, dial: L2tpDial) -> None:
        try:
            if self._ipsec:
                await self._bring_up_ipsec(dial)
            self._start_xl2tpd(dial)
            if not self._ipsec:
                self._reach(RasConnState.PortOpened)
            await self._call()
            self._reach(RasConnState.ConnectDevice)
            await self._until_connected()
        except LinkFailure as exc:
            self._finish(exc.code, exc.detail)
        except RasError as exc:
            self._finish(exc.code, exc.detail or str(exc))

    async def _bring_up_ipsec(self, dial: L2tpDial) -> None:
        path = self._path(_VICI)
        while self._control is None:
            charon = self._charon
            if charon is not None and charon.exited:
                raise LinkFailure(ERROR_RASMAN_CANNOT_INITIALIZE, "charon exited at start")
            if path.exists():
                with contextlib.suppress(OSError):
                    self._control = await ViciConnection.open(path)
                    break
            await asyncio.sleep(0.0005)
        control = self._control
        command = ""
        try:
            for command, messages in l2tp.ike_credentials(dial.tunnel):
                if command == "load-cert" and len(messages) > 1:
                    await control.pipeline(command, messages)  # (a bundle: one write)
                else:
                    for message in messages:
                        await control.request(command, message)
            command = "load-conn"
            await control.request(command, l2tp.ike_connection(dial.tunnel))
        except ViciError as exc:
            if dial.tunnel.cert and command in ("load-key", "load-cert"):
                what = {"load-key": "private key (OpenRasL2tpKey)"}.get(
                    command, "certificate (OpenRasL2tpCert)"
                )
                raise LinkFailure(
                    ERROR_NO_CERTIFICATE,
                    f"charon could not load the machine {what}: {exc}; give an unencrypted "
                    "PEM file (PKCS#8, RSA or EC)",
                ) from None
            raise LinkFailure(ERROR_RASMAN_CANNOT_INITIALIZE, f"charon refused: {exc}") from None
        self._reach(RasConnState.PortOpened)
        timeout_ms = int(max(self._remaining(), 0.001) * 1000)
        try:
            await control.request("initiate", l2tp.initiate(timeout_ms))
        except (ViciError, ViciClosed) as exc:
            self._read_charon_log()
            # (no line that says why: a server that never answered is 809, else IPsec's 789)
            default = l2tp.ERROR_L2TP_SECURITY if self._ike_answered else _NO_ANSWER
            code, line = self._ike_failure or (default, str(exc) or "no answer to IKE")
            raise LinkFailure(code, f"IPsec for L2TP failed: {line}") from None

    def _read_charon_log(self) -> None:
        for raw in self._charon_tail.lines():
            if not (m := _FILE_LINE.match(raw)):
                continue
            if m.group(1).startswith("received packet"):
                self._ike_answered = True
            cert = self._dial_cfg is not None and self._dial_cfg.tunnel.cert
            code = l2tp.ike_failure(m.group(1), cert=cert)
            if self._ike_failure is None and code is not None:
                self._ike_failure = (code, _explain(code, m.group(1)))

    def _start_xl2tpd(self, dial: L2tpDial) -> None:
        """xl2tpd with the daemon's config and pppd's options; the password's memfd passes
        through xl2tpd (which closes no other descriptor) to the pppd it runs."""
        xl2tpd = find_program("xl2tpd")
        no_script = no_op_program()
        pw_fd = password_fd(dial.user, self.spec.params.password)
        try:
            options = self._path(_PPP_OPTIONS)
            write_private(
                options,
                l2tp.pppd_options(
                    user=dial.user, ifname=self._ifname, linkname=f"openras-{self.spec.handle}",
                    logfile=self._path("pppd.log"), no_script=no_script, password_fd=pw_fd,
                ).encode(),
            )  # fmt: skip
            write_private(
                self._path(_XL2TPD_CONF),
                l2tp.xl2tpd_conf(dial.tunnel, options_file=options).encode(),
            )
            if self._stopping:
                raise stopped_before_start("xl2tpd")
            argv = [find_program("sh"), "-c", _UMASK + 'exec "$0" "$@"',
                    xl2tpd, "-D", "-c", str(self._path(_XL2TPD_CONF)),
                    "-p", str(self._path("xl2tpd.pid")), "-C", str(self._path(_CONTROL))]  # fmt: skip
            proc = LinkProcess.spawn(
                argv, marker=self.spec.marker, log_path=self._path("xl2tpd.out"),
                env={"PATH": program_path(), "LANG": "C"},
                pass_fds=() if pw_fd is None else (pw_fd,),
            )  # fmt: skip
        finally:
            if pw_fd is not None:
                os.close(pw_fd)
        self._watch_program(proc)
        self.emit(RecordChanged())  # (start() has returned: adoption must find xl2tpd)

    async def _call(self) -> None:
        """``c openras`` into xl2tpd's control pipe, once xl2tpd has made it."""
        pipe = self._path(_CONTROL)
        while True:
            self._check_xl2tpd_log()
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISFIFO(pipe.stat().st_mode):
                    try:
                        fd = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                    except OSError as exc:
                        if exc.errno != errno.ENXIO:  # (no reader yet)
                            raise
                    else:
                        try:
                            os.write(fd, b"c openras\n")
                        finally:
                            os.close(fd)
                        return
            await asyncio.sleep(0.002)

    def _check_xl2tpd_log(self) -> None:
        for line in self._xl2tpd_tail.lines():
            code = xl2tpd_failure(line)
            if code is not None and not self._ended():
                raise LinkFailure(code, f"xl2tpd: {line.strip()}")

    async def _until_connected(self) -> None:
        while not self._ended():
            self._read_log()
            self._check_xl2tpd_log()
            if self._pppd is None:
                self._find_pppd()
            if self._log.projected and link_exists(self._ifname):
                self._mark_connected()
                self._reach(RasConnState.Connected)
                return
            await asyncio.sleep(_POLL)

    def _find_pppd(self) -> None:
        """pppd is xl2tpd's child: journaled and watched once it is there (xl2tpd's
        children from one read of /proc, not a scan of every process)."""
        if self._proc is None or self._proc.exited:
            return
        ident = None
        for pid in _children(self._proc.pid):
            start = proc_start(pid)
            if start is not None and _comm(pid) == "pppd":
                ident = ProcessIdentity(pid, start[0])
                break
        proc = LinkProcess.adopt(ident) if ident is not None else None
        if proc is not None:
            self.journal.note(Process(proc.pid, proc.identity.create_time))
            self._pppd = proc
            self._spawn(self._watch_helper(proc, "pppd"))
            self.emit(RecordChanged())

    async def _watch_helper(self, proc: LinkProcess, name: str) -> None:
        """pppd's or charon's exit that nobody asked for ends the link."""
        await proc.wait()
        if self._ended():
            return
        if name == "pppd":
            self._read_log()
            self._log.close()
            self._finish(*classify_exit(self._log, None, connected=self._connected))
        else:
            self._read_charon_log()
            code = ERROR_LINK_FAILURE if self._connected else l2tp.ERROR_L2TP_SECURITY
            self._finish(code, "charon (IPsec) exited")

    # -- end --------------------------------------------------------------------------------

    def _on_dial_deadline(self) -> None:
        self._read_log()
        self._read_charon_log()
        detail = f"not connected within {self._dial_timeout():g} s"
        if self._log.failure is not None:
            self._finish(self._log.failure.code, f"{detail}: {self._log.failure.line}")
        elif self._pppd is None:
            # IPsec (or the L2TP tunnel) never came up: nobody answered.
            code, line = self._ike_failure or (_NO_ANSWER, "no answer from the L2TP server")
            self._finish(code, f"{detail}: {line}")
        else:
            self._finish(deadline_code(self._log), detail)

    def _program_exited(self, rc: int | None) -> tuple[int, str]:
        self._read_log()
        if self._log.failure is not None or self._connected:
            return classify_exit(self._log, rc, connected=self._connected)
        return ERROR_RASMAN_CANNOT_INITIALIZE, f"xl2tpd exited ({rc})"

    def _graceful_stop(self) -> bool:
        """pppd's clean stop (LCP Terminate); xl2tpd follows when pppd has gone."""
        pppd = self._pppd
        if pppd is None or pppd.exited:
            return False
        pppd.terminate()
        self._spawn(self._after_pppd(pppd))
        return True

    async def _after_pppd(self, pppd: LinkProcess) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(pppd.wait(), _GRACE)
        if self._proc is not None and not self._proc.exited:
            self._proc.terminate()

    async def _release(self) -> None:
        """xl2tpd is gone: pppd (which it SIGKILLs at its exit) must be too; then charon's
        clean stop (IKE DELETE); anything else with the link's marker is killed."""
        for proc in (self._pppd, self._charon):
            if proc is None:
                continue
            if not proc.exited:
                proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), _GRACE)
            except TimeoutError:
                proc.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(proc.wait(), _GRACE)
        if self._control is not None:
            self._control.close()
        await self._reap_marked()

    # -- persistence ------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        rec = super().record()
        rec["kind"] = "l2tp"
        rec["pppd"] = self._pppd.identity.to_record() if self._pppd else None
        rec["charon"] = self._charon.identity.to_record() if self._charon else None
        rec["ipsec"] = self._ipsec
        rec["ipsec_auth"] = self._dial_cfg.tunnel.auth if self._dial_cfg else l2tp.AUTH_PSK
        rec["server"] = self._dial_cfg.tunnel.server if self._dial_cfg else ""
        return rec

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        link = cls(spec, emit)
        link._started = time.monotonic()
        link._ipsec = bool(record.get("ipsec"))
        server = str(record.get("server") or "")
        link._dial_cfg = L2tpDial(
            tunnel=l2tp.L2tpSettings(
                server=server, ipsec=link._ipsec,
                auth=str(record.get("ipsec_auth") or l2tp.AUTH_PSK),
            ), user="",
            dial_timeout=dial_timeout(spec.entry),
        )  # fmt: skip
        link._read_log()
        procs: dict[str, LinkProcess | None] = {}
        for key in ("process", "pppd", "charon"):
            rec = record.get(key)
            procs[key] = LinkProcess.adopt(ProcessIdentity.from_record(rec)) if rec else None
        link._pppd, link._charon = procs["pppd"], procs["charon"]
        if procs["process"] is not None:
            link._watch_program(procs["process"], journal=False)
        for key in ("pppd", "charon"):
            proc = procs[key]
            if proc is not None:
                link._spawn(link._watch_helper(proc, key))
        ready = procs["process"] is not None and procs["pppd"] is not None
        if link._ipsec:
            ready = ready and procs["charon"] is not None
        if not (ready and link._log.projected and link_exists(link._ifname)):
            await link._abandon()
            return None
        if link._ipsec:
            with contextlib.suppress(OSError):
                link._control = await ViciConnection.open(link._path(_VICI))
        link._mark_connected()
        link._progress.advance(RasConnState.Projected)  # (reported before the crash)
        link._reach(RasConnState.Connected)
        return link

    async def projection(self) -> Projection | None:
        proj = await super().projection()
        if proj is None or self._dial_cfg is None:
            return proj
        extra = dict(proj.extra)
        extra["framing"] = "PPP"
        extra["tunnel"] = "L2TP/IPsec" if self._ipsec else "L2TP"
        extra["server"] = self._dial_cfg.tunnel.server
        if self._ipsec:
            how = "machine certificate" if self._dial_cfg.tunnel.cert else "PSK"
            extra["ipsec"] = f"IKEv1 {how}, ESP transport mode"
        return replace(proj, extra=extra)


#: What to do about each certificate failure, after charon's line.
_ADVICE: Final = {
    l2tp.ERROR_L2TP_NO_VALID_CERT: "the server refused this machine's certificate "
    "(OpenRasL2tpCert): use one issued by a CA the server trusts",
    l2tp.ERROR_L2TP_SERVER_AUTH: "the server's certificate is not from the CA this entry "
    "trusts (OpenRasL2tpCa), or has expired: ask the server's administrator for its CA",
    ERROR_INVALID_SERVER_CERT: "the server's certificate does not name the server dialed "
    "(PhoneNumber): dial the name its certificate carries",
}


def _explain(code: int, line: str) -> str:
    advice = _ADVICE.get(code)
    return f"{line} ({advice})" if advice else line


def _children(pid: int) -> list[int]:
    """``pid``'s children: /proc/PID/task/PID/children (CONFIG_PROC_CHILDREN), else a scan
    of every process's parent in /proc/N/stat."""
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(pid).encode():
            found.append(int(name))
    return found


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _load_modules(ipsec: bool) -> None:
    """Load what the dial needs and the kernel has not loaded yet (root only; a failure
    shows in check_kernel's answer): a modprobe on every dial cost more than the rest of
    the daemon's work on it."""
    modules = ["ppp_generic", "l2tp_ppp", "ppp_async"] + (["esp4", "xfrm_user"] if ipsec else [])
    missing = [m for m in modules if not Path("/sys/module", m).exists()]
    if not missing or os.geteuid() != 0:
        return
    import subprocess

    from openras.links._common import HELPER_ENV

    try:
        modprobe = find_program("modprobe")
    except RasError:
        return
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        subprocess.run([modprobe, "-a", *missing], capture_output=True, timeout=20, env=HELPER_ENV)


__all__ = ["L2tpDial", "L2tpLink", "dial_from_spec", "xl2tpd_failure"]
