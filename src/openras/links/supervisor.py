"""The one supervisor every real-program driver is built on.

It owns what used to be written once per driver: the run directory, the dial deadline, the
end of an attempt reported exactly once, the tasks a link runs, the stop escalation (the
program's own graceful stop, then SIGTERM, then SIGKILL at the kill deadline), and the close
that waits for the programs and replays the teardown journal (:mod:`openras.links.journal`).

A driver implements only:

* ``validate`` (classmethod, in a worker thread): read and check the entry; what it returns
  is the typed ``prepared`` value its ``_launch`` gets (read once per dial);
* ``_launch(prepared)``: create what the link needs, each resource journaled first
  (:meth:`_spawn_program` journals a process; ``self.journal.note`` anything else);
* ``_graceful_stop()``: ask the program to stop the way it stops cleanly (a control command);
  return False when it cannot, and the program gets SIGTERM at once;
* ``_program_exited(rc)``: what an exit nobody asked for means, as ``(code, detail)``;
* how to interpret what its program says (best as a sans-IO interpreter, handed ``now``),
  reported through ``self.emit`` and :meth:`_finish`; and ``adopt``.

Stop escalation, one place: a stop (a hang-up, or the link's own failure) asks gracefully;
a program still running ``term_after`` seconds later gets SIGTERM; one still running at the
kill deadline (``OpenRasKillDeadlineMs``, at most 30 s) gets SIGKILL. ``kill()`` is SIGKILL
now (a forced hang-up).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Final, Generic, TypeVar, cast

from openras.errors import ERROR_USER_DISCONNECTION, ERROR_VPN_TIMEOUT, RasError
from openras.links._common import dial_timeout
from openras.links.base import Emit, Link, LinkFailed, LinkLost, LinkSpec
from openras.links.journal import JOURNAL_FILE, Journal, Process
from openras.links.process import LinkProcess

log = logging.getLogger(__name__)

PreparedT = TypeVar("PreparedT")


class LinkFailure(Exception):
    """A step of a link failed with a RAS code: the supervisor reports it once."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def stopped_before_start(program: str) -> RasError:
    """What ``start()`` raises when a stop came in while it prepared (before the spawn):
    starting the program anyway would leave it running with nobody watching for a stop."""
    return RasError(ERROR_USER_DISCONNECTION, f"hung up before {program} started")


class SupervisedLink(Link, Generic[PreparedT]):
    """A link whose resources are journaled and whose programs the base stops and waits for."""

    default_kill_deadline: ClassVar[float] = 5.0
    #: Seconds after the graceful stop until a program that did not hear it gets SIGTERM
    #: (None: only the kill deadline).
    term_after: ClassVar[float | None] = 3.0

    __slots__ = (
        "_close_task",
        "_connected",
        "_dial_timer",
        "_escalation",
        "_proc",
        "_run_task",
        "_started",
        "_stop_begun",
        "_stop_waiter",
        "_stopping",
        "_stopping_callbacks",
        "_tasks",
        "_terminal",
        "journal",
    )

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self.journal = Journal(spec.run_dir)
        self._stopping = False  # a stop was asked for
        self._terminal = False  # the link reported its own end
        self._connected = False
        self._proc: LinkProcess | None = None
        #: A stop began; ``_stop_waiter`` is the future of a close that waits for it (made
        #: only when one waits before the stop: a live link holds no event or task of its own).
        self._stop_begun = False
        self._stop_waiter: asyncio.Future[None] | None = None
        self._stopping_callbacks: list[Callable[[], None]] | None = None
        #: The link's tasks (made with the first: most live links have none).
        self._tasks: set[asyncio.Task[Any]] | None = None
        #: The dial (and, for some drivers, the watch) task: cancelled when the stop begins.
        self._run_task: asyncio.Task[None] | None = None
        self._dial_timer: asyncio.TimerHandle | None = None
        self._escalation: list[asyncio.TimerHandle] = []
        self._close_task: asyncio.Task[None] | None = None
        #: When this dial began (monotonic); the dial deadline counts from here.
        self._started = 0.0

    # ------------------------------------------------------------------ for drivers

    @abc.abstractmethod
    async def _launch(self, prepared: PreparedT) -> None:
        """Create the link's resources and start its program(s); raise RasError if it
        cannot start. The run directory exists; a stop may already have been asked for."""

    def _graceful_stop(self) -> bool:
        """Ask the program to stop cleanly; False when it cannot be asked (SIGTERM now)."""
        return False

    def _program_exited(self, rc: int | None) -> tuple[int, str] | None:
        """What an exit that nobody asked for means; None: somebody else reports it."""
        return None

    async def _release(self) -> None:
        """Release what is not journaled (in-memory reservations, sockets); at close."""

    def _on_dial_deadline(self) -> None:
        """The dial took longer than the entry allows (the driver may say more)."""
        self._finish(ERROR_VPN_TIMEOUT, f"not connected within {self._dial_timeout():g} s")

    # ------------------------------------------------------------------ helpers

    def _ended(self) -> bool:
        return self._terminal or self._stopping

    def _dial_timeout(self) -> float:
        return dial_timeout(self.spec.entry)

    def _remaining(self) -> float:
        """Seconds left of the dial deadline."""
        return self._started + self._dial_timeout() - time.monotonic()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as one of the link's tasks (cancelled and awaited at close)."""
        task = asyncio.get_running_loop().create_task(coro)
        if self._tasks is None:
            self._tasks = set()
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _spawn_program(
        self,
        argv: Sequence[str],
        *,
        log_name: str | None,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> LinkProcess:
        """Start the link's program (journaled, watched); RasError if a stop came first.
        Its output goes to ``log_name`` in the run directory (None: the program logs itself)."""
        if self._stopping:
            raise stopped_before_start(Path(argv[0]).name)
        proc = LinkProcess.spawn(
            argv, marker=self.spec.marker, log_path=self.spec.run_dir / log_name if log_name else None, env=env,
            pass_fds=pass_fds,
        )  # fmt: skip
        self._watch_program(proc)
        return proc

    def _watch_program(self, proc: LinkProcess, *, journal: bool = True) -> None:
        """Make ``proc`` the link's program: journaled (unless adopted: it is already), and
        its exit reported."""
        if journal:
            self.journal.note(Process(proc.pid, proc.identity.create_time))
            if log.isEnabledFor(logging.DEBUG):  # where a dial's time goes, at debug level
                log.debug("%d: %s started, pid %d", self.spec.handle, self.driver, proc.pid)
        self._proc = proc
        proc.on_exit(self._on_program_exit)

    def _arm_dial_deadline(self, seconds: float | None = None) -> None:
        """Fail the dial (``_on_dial_deadline``) unless it is connected within ``seconds``
        (the entry's dial timeout by default)."""
        self._disarm_dial_deadline()
        delay = self._dial_timeout() if seconds is None else seconds
        self._dial_timer = asyncio.get_running_loop().call_later(delay, self._dial_deadline)

    def _disarm_dial_deadline(self) -> None:
        if self._dial_timer is not None:
            self._dial_timer.cancel()
            self._dial_timer = None

    def _dial_deadline(self) -> None:
        self._dial_timer = None
        if not (self._connected or self._ended()):
            self._on_dial_deadline()

    def _mark_connected(self) -> None:
        """The link is up: later ends are drops, and the dial deadline no longer applies."""
        self._connected = True
        self._disarm_dial_deadline()

    def _finish(self, code: int, detail: str) -> None:
        """Report the end of the attempt (failed) or of the link (dropped), once, and stop."""
        if self._ended():
            return
        self._terminal = True
        self._disarm_dial_deadline()
        self.emit(LinkLost(code, detail) if self._connected else LinkFailed(code, detail))
        self._begin_stop()

    # ------------------------------------------------------------------ the contract

    async def start(self) -> None:
        self._started = time.monotonic()
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%d: %s link starting", self.spec.handle, self.driver)
        prepared = self.spec.prepared
        if prepared is None:
            prepared = await asyncio.to_thread(self.validate, self.spec)
        else:
            self.spec = replace(self.spec, prepared=None)  # read once: not kept for the link's life
        make_run_dir(self.spec.run_dir)
        if self._stopping:
            raise stopped_before_start(self.driver)
        try:
            await self._launch(cast(PreparedT, prepared))
        except BaseException:
            # start() reports this failure; nothing more is emitted, nothing left running.
            self._terminal = True
            self._begin_stop(force=True)
            raise

    def request_stop(self) -> None:
        self._stopping = True
        self._begin_stop()

    def kill(self) -> None:
        self._stopping = True
        self._begin_stop(force=True)

    def _begin_stop(self, *, force: bool = False) -> None:
        """The one stop path: cancel the dial, ask gracefully, escalate by the clock."""
        self._disarm_dial_deadline()
        proc = self._proc
        running = proc is not None and not proc.exited
        if force and proc is not None:
            proc.kill()
        if self._stop_begun:
            return
        self._stop_begun = True
        waiter, self._stop_waiter = self._stop_waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        callbacks, self._stopping_callbacks = self._stopping_callbacks, None
        for callback in callbacks or ():
            asyncio.get_running_loop().call_soon(callback)
        task = self._run_task
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        if not running or force:
            return
        loop = asyncio.get_running_loop()
        if not self._graceful_stop():
            self._signal(signal.SIGTERM)
        elif self.term_after is not None and self.term_after < self.kill_deadline:
            self._escalation.append(loop.call_later(self.term_after, self._term))
        self._escalation.append(loop.call_later(self.kill_deadline, self._kill_late))

    def _signal(self, sig: int) -> None:
        if self._proc is not None:
            self._proc.signal(sig)

    def _term(self) -> None:
        if self._proc is not None and not self._proc.exited:
            log.info("%r: no exit after the graceful stop; sending SIGTERM", self)
            self._proc.terminate()

    def _kill_late(self) -> None:
        if self._proc is not None and not self._proc.exited:
            log.warning("%r: link ignored the stop request; killing it at its deadline", self)
            self._proc.kill()

    def when_stopping(self, callback: Callable[[], None]) -> None:
        if self._stop_begun:
            asyncio.get_running_loop().call_soon(callback)
            return
        if self._stopping_callbacks is None:
            self._stopping_callbacks = []
        self._stopping_callbacks.append(callback)

    def _on_program_exit(self, rc: int | None) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%d: %s program exited (%s)", self.spec.handle, self.driver, rc)
        if not self._ended():
            reason = self._program_exited(rc)
            if reason is not None:
                self._finish(*reason)
                return
        self._begin_stop()  # the program is gone: nothing more to wait for

    async def wait_closed(self) -> None:
        if self._close_task is None:
            self._close_task = asyncio.get_running_loop().create_task(self._close())
        await asyncio.shield(self._close_task)

    async def _close(self) -> None:
        """Once a stop began: the programs gone, the tasks ended, then the journal replayed
        and the run directory removed. Status answers 6 only after this."""
        if not self._stop_begun:
            if self._stop_waiter is None:
                self._stop_waiter = asyncio.get_running_loop().create_future()
            await self._stop_waiter
        if self._proc is not None:
            await self._proc.wait()
        for timer in self._escalation:
            timer.cancel()
        self._disarm_dial_deadline()
        await cancel_and_wait([self._run_task, *(self._tasks or ())])
        await self._release()
        proc = self._proc
        gone = Process(proc.pid, proc.identity.create_time) if proc and proc.exited else None
        await self.journal.replay(keep_file=True, exited=gone)
        retire_run_dir(self.spec.run_dir)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%d: %s link closed", self.spec.handle, self.driver)

    async def _abandon(self) -> None:
        """End a link that ``adopt`` found not worth keeping: SIGKILL, then the close."""
        self._stopping = True
        self._begin_stop(force=True)
        await self.wait_closed()

    @classmethod
    async def cleanup_orphan(cls, spec: LinkSpec) -> None:
        """The journal of a link that was started but never recorded, replayed; then its
        run directory goes."""
        await Journal(spec.run_dir).replay()
        shutil.rmtree(spec.run_dir, ignore_errors=True)


#: Run directories of closed links, emptied (but for an empty journal file) and kept for
#: the next link's start, by links directory. On ext4 the inodes of a new directory and a new
#: journal, allocated per dial and freed per hang-up, were a fifth of the daemon's CPU per
#: dial in a burst of dials; a rename reuses them. They wait in a sibling of the links
#: directory (``spares_dir``: nothing of a closed link stays among the run directories),
#: this daemon life's only: the manager removes the folder at its start and stop.
_SPARES: dict[Path, list[Path]] = {}
MAX_SPARES: Final = 256


def spares_dir(links_dir: Path) -> Path:
    return links_dir.with_name(links_dir.name + ".spare")


def make_run_dir(run_dir: Path) -> None:
    """Create ``run_dir`` (0700) from a spare one if there is one; keep it if it exists."""
    if os.path.isdir(run_dir):
        return
    spares = _SPARES.get(run_dir.parent)
    while spares:
        spare = spares.pop()
        try:
            os.rename(spare, run_dir)
            return
        except OSError:
            shutil.rmtree(spare, ignore_errors=True)
    run_dir.mkdir(mode=0o700, parents=True, exist_ok=True)


def retire_run_dir(run_dir: Path) -> None:
    """Remove ``run_dir`` (its journal replayed): emptied but for the journal file and kept
    as a spare, or removed when there are enough spares or it cannot be emptied."""
    spares = _SPARES.setdefault(run_dir.parent, [])
    if len(spares) < MAX_SPARES:
        try:
            with os.scandir(run_dir) as entries:
                for entry in entries:
                    if entry.name == JOURNAL_FILE and entry.is_file(follow_symlinks=False):
                        continue
                    if entry.is_dir(follow_symlinks=False):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
            spare = spares_dir(run_dir.parent) / run_dir.name
            try:
                os.rename(run_dir, spare)
            except FileNotFoundError:
                spare.parent.mkdir(mode=0o700, exist_ok=True)
                os.rename(run_dir, spare)
            spares.append(spare)
            return
        except OSError:
            pass
    shutil.rmtree(run_dir, ignore_errors=True)


def drop_spares(links_dir: Path) -> None:
    """Remove the spare run directories (a daemon's start and stop)."""
    _SPARES.pop(links_dir, None)
    shutil.rmtree(spares_dir(links_dir), ignore_errors=True)


async def cancel_and_wait(tasks: Sequence[asyncio.Task[Any] | None]) -> None:
    """Cancel each task (but the calling one) and wait until it has ended."""
    for task in tasks:
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
