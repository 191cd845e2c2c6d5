"""The teardown journal: what a link made, written down *before* it is made.

Every resource a link creates outside its own process (an interface, a policy rule, a
socket file, a program, kernel IPsec state) is appended here as a typed undo step just
before the driver creates it, in ``<run dir>/journal``. Closing a link and cleaning up
after a crash are then the same thing, :func:`replay`: the steps undone newest first, each
one idempotent and checked against what it names (a process by pid *and* start time, a
rule by exact match, a socket only when nothing answers on it), so a step for something
that was never made, or is gone already, changes nothing. No driver guesses after a crash
what it might have left.

A step is one JSON line (appended with one ``write``: a crash leaves at most a torn last
line, which is skipped). The journal lives in the run directory, which survives a daemon
crash and is removed once the replay is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from pathlib import Path
from typing import Final

import msgspec

from openras.links._common import remove_quietly
from openras.links.process import ProcessIdentity, kill_and_wait
from openras.links.rtnl import AddRule, DelRule, NetlinkError, Rtnl
from openras.links.xfrm import purge_if_id, purge_reqid

log = logging.getLogger(__name__)

JOURNAL_FILE: Final = "journal"
#: How long a replay waits for a SIGKILLed process to be gone.
_KILL_WAIT: Final = 5.0
#: How long a socket may go on answering after its program was killed.
_SOCKET_GRACE: Final = 1.0
_SOCKET_POLL: Final = 0.0025


class Process(msgspec.Struct, frozen=True, tag="process"):
    """A program the link started: SIGKILLed if this very process (pid + start time) runs."""

    pid: int
    create_time: float


class Interface(msgspec.Struct, frozen=True, tag="interface"):
    """A network interface: deleted if it exists (by name, in the replaying thread's
    network namespace)."""

    name: str


class Rule(msgspec.Struct, frozen=True, tag="rule"):
    """A policy rule: removed only if the kernel has one equal in every field."""

    version: int
    priority: int
    table: int
    #: The rule's "not fwmark" (None: a rule without one, as charon's "lookup TABLE").
    fwmark: int | None
    suppress_prefixlength: int | None = None

    @classmethod
    def of(cls, rule: AddRule) -> Rule:
        return cls(
            rule.version, rule.priority, rule.table, rule.not_fwmark, rule.suppress_prefixlength
        )

    def removal(self) -> DelRule:
        rule = AddRule(
            self.version, self.priority, self.table,
            not_fwmark=self.fwmark, suppress_prefixlength=self.suppress_prefixlength,
        )  # fmt: skip
        return DelRule(rule)


class Socket(msgspec.Struct, frozen=True, tag="socket"):
    """A Unix socket a program of the link listens on (wireguard-go's UAPI socket): removed
    once nothing answers on it. One that still answers after a grace belongs to a running
    program and is kept (a killed wireguard-go shows as a zombie while its last threads
    still hold the socket, hence the grace)."""

    path: str


class File(msgspec.Struct, frozen=True, tag="file"):
    """A file outside the run directory (the run directory goes as a whole)."""

    path: str


class XfrmIfId(msgspec.Struct, frozen=True, tag="xfrm"):
    """The kernel SAs and policies that carry an XFRM interface id (the IKEv2 link's kernel
    ESP path): deleted, whoever's charon installed them is gone (a SIGKILLed charon leaves
    them; a clean stop has removed them already)."""

    if_id: int


class XfrmReqid(msgspec.Struct, frozen=True, tag="xfrm-reqid"):
    """The kernel SAs and policies of a transport-mode link (L2TP/IPsec: no interface to
    carry an id), found by the reqid its charon was told to use."""

    reqid: int


class Undone(msgspec.Struct, frozen=True, tag="undone"):
    """Not a step: every step above it was undone (a replay that keeps the file, for the
    next link of a reused run directory: appending costs ext4 no inode and no flush, where
    a new file or an emptied one does)."""


Step = Process | Interface | Rule | Socket | File | XfrmIfId | XfrmReqid
_encoder: Final = msgspec.json.Encoder()
_decoder: Final = msgspec.json.Decoder(Step | Undone)
_UNDONE: Final = _encoder.encode(Undone())
#: A kept journal longer than this is removed at its replay instead (a new one starts).
KEEP_MAX: Final = 16384


class Journal:
    """The journal of one link's run directory."""

    __slots__ = ("run_dir",)

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    @property
    def path(self) -> Path:
        # Made when used (a note, a replay): a live link keeps only its run dir's path.
        return self.run_dir / JOURNAL_FILE

    def note(self, step: Step) -> None:
        """Append ``step`` (call it *before* creating what it undoes)."""
        self._append(_encoder.encode(step) + b"\n")

    def _append(self, line: bytes) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)

    def steps(self) -> list[Step]:
        """The steps written so far, oldest first; unreadable lines (a torn last line, an
        older format) are skipped with a warning."""
        try:
            data = self.path.read_bytes()
        except OSError:
            return []
        # Only what follows the last Undone counts. A kept journal holds the undone steps of
        # every earlier link of its run directory (up to KEEP_MAX): decoding them all was
        # most of a hang-up's replay. (The marker cannot occur inside a step: JSON escapes
        # the quotes of a string.)
        cut = data.rfind(_UNDONE)
        start = 0 if cut < 0 else cut + len(_UNDONE)
        out: list[Step] = []
        for n, line in enumerate(data[start:].splitlines(), 1):
            if not line.strip():
                continue
            try:
                step = _decoder.decode(line)
            except msgspec.DecodeError:
                n += data.count(b"\n", 0, start)
                log.warning("%s:%d: not a journal step; skipped", self.path, n)
                continue
            if isinstance(step, Undone):
                out.clear()
            else:
                out.append(step)
        return out

    async def replay(self, *, keep_file: bool = False, exited: Process | None = None) -> None:
        """Undo every step, newest first, then forget them (``keep_file``: the file stays,
        its steps marked undone, for the next link of a reused run directory). ``exited``:
        a program this daemon saw exit (its pidfd), which needs no look in /proc. Never
        raises: a step that cannot be undone is logged and the others still run."""
        steps = self.steps()
        for step in reversed(steps):
            if step == exited:
                continue
            try:
                await _undo(step)
            except Exception:
                log.exception("teardown step %r failed", step)
        with contextlib.suppress(FileNotFoundError):
            if keep_file and os.stat(self.path).st_size < KEEP_MAX:
                # On a line of its own, whatever the last write left.
                self._append(b"\n" + _encoder.encode(Undone()) + b"\n")
            else:
                self.path.unlink()


async def _undo(step: Step) -> None:
    if isinstance(step, Process):
        await kill_and_wait(ProcessIdentity(step.pid, step.create_time), _KILL_WAIT)
    elif isinstance(step, Socket):
        await _remove_dead_socket(Path(step.path))
    else:
        _undo_now(step)


def _listened_on(path: Path) -> bool:
    """Whether a program listens on ``path``: a connect is accepted, or waits in a full
    backlog (EAGAIN: alive, only busy); refused or missing: nobody."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            return True
        except OSError:
            return False
    return True


def _gone(path: Path) -> bool:
    return not os.path.lexists(path)


async def _remove_dead_socket(path: Path) -> None:
    if _gone(path):
        return  # its program removed it on its way out (the usual case): one lstat
    deadline = time.monotonic() + _SOCKET_GRACE
    while _listened_on(path):
        if time.monotonic() >= deadline:
            return  # a live program's
        await asyncio.sleep(_SOCKET_POLL)
    remove_quietly(path)


def _undo_now(step: Interface | Rule | File | XfrmIfId | XfrmReqid) -> None:
    """The undo of a step that is one quick call (a netlink request, an unlink)."""
    if isinstance(step, XfrmIfId | XfrmReqid):
        try:
            if isinstance(step, XfrmIfId):
                purge_if_id(step.if_id)
            else:
                purge_reqid(step.reqid)
        except (NetlinkError, OSError) as exc:
            log.warning("teardown: %s", exc)
    elif isinstance(step, Interface):
        with Rtnl() as rtnl:
            rtnl.delete_link(step.name)
    elif isinstance(step, Rule):
        try:
            with Rtnl() as rtnl:
                rtnl.remove_rules([step.removal()])
        except (NetlinkError, OSError) as exc:
            log.warning("teardown: %s", exc)
    else:
        remove_quietly(Path(step.path))
