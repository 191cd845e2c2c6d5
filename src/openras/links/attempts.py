"""One attempt after the other until one connects, as Windows dials them: a ``DEVICE=vpn``
entry whose ``VpnStrategy`` is a list (Automatic, "PPTP first", "IKEv2 then SSTP"...), and
a modem entry with alternate numbers and ``TryNextAlternateOnFail=1`` (its number, then
each alternate; the number dialed is in the projection's ``extra["dialed_number"]``).

The order is :mod:`openras.links.strategy`'s; the types with a driver here are the
registry's (:func:`openras.links.registry.vpn_attempts`). Each attempt is the driver of its
type run on the entry as if its strategy named that type only (``VpnStrategy=7`` for
IKEv2...), in the same run directory, one at a time: the next starts only once the
previous one's programs are gone and its journal replayed.

What the dialer sees: the states of the attempts, each reported once and never backwards
(a second attempt's OpenPort is not reported again); a failed attempt that moves on is not
reported as a failure, it is logged and kept for the end. When every type failed, the dial
fails with the last attempt's code when one type was tried, or 800
(ERROR_AUTOMATIC_VPN_FAILED) naming each type's error when several were. A wrong password,
a name that does not resolve or a hang-up end the list at once (``strategy.worth_next``).
Once connected nothing falls back: a link that drops is reported as dropped.

The type that connected is in the projection (``extra["vpn_protocol"]``, and the types that
failed before it with their errors in ``extra["vpn_failed_before"]``); the daemon keeps
no memory of it across dials (Windows rewrites the entry's ``PreferredDevice``; openras does
not write a user's phonebook: an entry whose strategy is Automatic tries its
``PreferredDevice`` type first).
"""

from __future__ import annotations

import asyncio
import logging
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Final

from openras import errors
from openras.errors import RasError
from openras.links import strategy
from openras.links.base import (
    Emit,
    EntryView,
    InputNeeded,
    Link,
    LinkEvent,
    LinkFailed,
    LinkLost,
    LinkSpec,
    LinkStats,
    NumberDialed,
    Projection,
    RecordChanged,
    StateReached,
)
from openras.links.journal import Journal
from openras.states import RasConnState

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One thing to try (a tunnel type, a number): its driver, the keys it sees changed,
    and what that driver's validate read (or why it cannot be tried, found before anything
    started)."""

    protocol: str
    driver: str
    overrides: Mapping[str, str]
    prepared: object | None = None
    refused: RasError | None = None


class Overridden:
    """The entry as one attempt's driver sees it: a few keys changed (``VpnStrategy`` says
    this type only; ``PhoneNumber`` is this alternate)."""

    def __init__(self, entry: EntryView, overrides: Mapping[str, str]) -> None:
        self._entry = entry
        self._overrides = {k.lower(): v for k, v in overrides.items()}

    @property
    def name(self) -> str:
        return self._entry.name

    def get(self, key: str, default: str | None = None) -> str | None:
        if key.lower() in self._overrides:
            return self._overrides[key.lower()]
        return self._entry.get(key, default)

    def __getattr__(self, attr: str) -> Any:  # to_record, phonebook, device_type...
        return getattr(self._entry, attr)


def attempt_spec(
    spec: LinkSpec, overrides: Mapping[str, str], prepared: object | None = None
) -> LinkSpec:
    return replace(spec, entry=Overridden(spec.entry, overrides), prepared=prepared)


class AttemptsLink(Link):
    """The attempts of the entry (tunnel types, numbers), tried in order (see the module)."""

    driver: ClassVar[str] = "attempts"
    device_type: ClassVar[str] = "vpn"
    device_name: ClassVar[str] = "openras attempts"

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        super().__init__(spec, emit)
        self._attempts: list[Attempt] = []
        self._current: Link | None = None
        self._protocol = ""
        self._current_driver = ""
        self._overrides: dict[str, str] = {}
        self._failures: list[tuple[str, int, str]] = []
        self._failed: tuple[int, str] | None = None  # the current attempt's own failure
        self._stopping = False
        self._connected = False
        self._reached = -1
        self._chain: asyncio.Task[None] | None = None
        self._done: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<AttemptsLink handle={self.spec.handle} now={self._protocol or '-'}>"

    # ------------------------------------------------------------------ the list

    @classmethod
    def validate(cls, spec: LinkSpec) -> list[Attempt]:
        """Each type's own checks, in order; a type whose checks fail is skipped (its error
        kept). RasError when no type can be tried."""
        from openras.links.registry import attempts_for, load_driver

        out: list[Attempt] = []
        tries = attempts_for(spec.entry)
        if spec.params.phone_number and not cls._is_vpn(spec):
            tries = tries[:1]  # the caller's own number replaces the entry's numbers
        for label, driver, overrides in tries:
            try:
                prepared = load_driver(driver).validate(attempt_spec(spec, overrides))
            except RasError as exc:
                out.append(Attempt(label, driver, overrides, refused=exc))
            else:
                out.append(Attempt(label, driver, overrides, prepared))
        if not any(a.refused is None for a in out):
            raise _all_failed([(a.protocol, a.refused.code, a.refused.detail or "") for a in out
                               if a.refused is not None])  # fmt: skip
        return out

    async def start(self) -> None:
        prepared = self.spec.prepared
        if prepared is None:
            prepared = await asyncio.to_thread(self.validate, self.spec)
        assert isinstance(prepared, list)
        self._attempts = list(prepared)
        self._done = asyncio.get_running_loop().create_future()
        # start() raises when no type could even start; otherwise one is under way and the
        # chain goes on in the background until one connects or all failed.
        try:
            await self._start_next()
        except BaseException:
            self._done.set_result(None)  # nothing runs: closed
            raise
        self._chain = asyncio.get_running_loop().create_task(self._run_chain())

    async def _start_next(self) -> None:
        from openras.links.registry import load_driver

        while self._attempts:
            a = self._attempts.pop(0)
            if a.refused is not None:  # its checks failed: noted in its turn, then skipped
                self._note_failure(a.protocol, a.refused.code, a.refused.detail or "")
                continue
            link = load_driver(a.driver)(attempt_spec(self.spec, a.overrides, a.prepared),
                                         self._emit_from(a.protocol))  # fmt: skip
            self._current, self._protocol, self._current_driver = link, a.protocol, a.driver
            self._overrides = dict(a.overrides)
            self._failed = None
            log.info("%r: trying %s", self, a.protocol)
            try:
                await link.start()
            except RasError as exc:
                await link.wait_closed()
                self._current = None
                self._note_failure(a.protocol, exc.code, exc.detail or "")
                if self._stopping or not strategy.worth_next(exc.code):
                    raise self._final_error() from None
                continue
            return
        raise self._final_error()

    async def _run_chain(self) -> None:
        """Wait for each attempt to end; start the next while the failure allows it."""
        try:
            while True:
                link = self._current
                assert link is not None
                await link.wait_closed()
                if self._connected or self._stopping or self._failed is None:
                    break
                code, detail = self._failed
                self._note_failure(self._protocol, code, detail)
                if not strategy.worth_next(code) or not self._attempts:
                    self.emit(LinkFailed(*self._final_parts()))
                    break
                try:
                    await self._start_next()
                except RasError as exc:
                    self.emit(LinkFailed(exc.code, exc.detail or ""))
                    break
                self.emit(RecordChanged())  # another program runs: adoption must find it
        finally:
            if self._done is not None and not self._done.done():
                self._done.set_result(None)

    def _note_failure(self, protocol: str, code: int, detail: str) -> None:
        log.info("%r: %s failed with %d: %s", self, protocol, code, detail)
        self._failures.append((protocol, code, detail))

    def _final_parts(self) -> tuple[int, str]:
        err = self._final_error()
        return err.code, err.detail or ""

    def _final_error(self) -> RasError:
        return _all_failed(self._failures)

    def _emit_from(self, protocol: str) -> Emit:
        def emit(event: LinkEvent) -> None:
            if protocol != self._protocol:
                return  # a finished attempt's late word
            if isinstance(event, StateReached):
                if int(event.state) <= self._reached:
                    return  # states go forward only, across attempts
                self._reached = int(event.state)
                if event.state is RasConnState.Connected:
                    self._connected = True
                self.emit(event)
            elif isinstance(event, LinkFailed):
                self._failed = (event.error, event.detail)  # decided once it is closed
            elif isinstance(event, LinkLost | InputNeeded | RecordChanged | NumberDialed):
                self.emit(event)

        return emit

    # ------------------------------------------------------------------ the contract

    async def wait_closed(self) -> None:
        if self._done is None:  # never started
            return
        await asyncio.shield(self._done)

    def request_stop(self) -> None:
        self._stopping = True
        if self._current is not None:
            self._current.request_stop()

    def kill(self) -> None:
        self._stopping = True
        if self._current is not None:
            self._current.kill()

    def provide_input(self, text: str | None) -> bool:
        return self._current.provide_input(text) if self._current is not None else False

    def record(self) -> dict[str, Any]:
        link = self._current
        return {
            "protocol": self._protocol,
            "driver": self._current_driver,
            "overrides": self._overrides,
            "record": link.record() if link is not None else None,
        }

    @classmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        """The attempt that was running, adopted by its own driver; no later attempts (a
        dial caught mid-way by a daemon restart ends with that attempt)."""
        from openras.links.registry import DRIVERS, load_driver

        protocol, driver = str(record.get("protocol", "")), str(record.get("driver", ""))
        inner, raw = record.get("record"), record.get("overrides")
        overrides = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        if not overrides or driver not in DRIVERS or driver == cls.driver:
            await cls.cleanup_orphan(spec)
            return None
        link = cls(spec, emit)
        link._protocol, link._current_driver, link._overrides = protocol, driver, overrides
        link._done = asyncio.get_running_loop().create_future()
        sub_spec = attempt_spec(spec, overrides)
        if not isinstance(inner, Mapping):
            await load_driver(driver).cleanup_orphan(sub_spec)
            return None
        sub = await load_driver(driver).adopt(sub_spec, inner, link._emit_from(protocol))
        if sub is None:
            return None
        link._current = sub
        link._chain = asyncio.get_running_loop().create_task(link._run_chain())
        return link

    @classmethod
    async def cleanup_orphan(cls, spec: LinkSpec) -> None:
        await Journal(spec.run_dir).replay()
        shutil.rmtree(spec.run_dir, ignore_errors=True)

    async def statistics(self) -> LinkStats:
        return await self._current.statistics() if self._current is not None else LinkStats()

    async def projection(self) -> Projection | None:
        if self._current is None:
            return None
        proj = await self._current.projection()
        if proj is None:
            return None
        tried = "; ".join(f"{p} {c}" + (f" ({d})" if d else "") for p, c, d in self._failures)
        if self._is_vpn(self.spec):
            extra = {"vpn_protocol": self._protocol, "vpn_failed_before": tried}
        else:
            extra = {"dialed_number": self._protocol, "numbers_failed_before": tried}
        return replace(proj, extra={**proj.extra, **extra})

    @staticmethod
    def _is_vpn(spec: LinkSpec) -> bool:
        from openras.links.registry import entry_device

        return entry_device(spec.entry) == "vpn"


#: What of the connection's detail (400 characters) the 800 summary may fill.
_DETAIL_ROOM: Final = 360


def _cut(text: str, room: int) -> str:
    return text if len(text) <= room else text[: room - 1] + "…"


def _all_failed(failures: list[tuple[str, int, str]]) -> RasError:
    """One type tried: its own error. Several: 800, each type's error in the detail."""
    if len(failures) == 1:
        _, code, detail = failures[0]
        return RasError(code, detail)
    if not failures:
        return RasError(errors.ERROR_DEVICETYPE_DOES_NOT_EXIST, "no VPN type to try")
    last = failures[-1]
    if not strategy.worth_next(last[1]):  # the list ended on a final error: that error
        return RasError(last[1], f"{last[0]}: {last[2]}" if last[2] else last[0])
    # Each type's reason cut short, so that every type shows within the row's detail.
    share = max(40, _DETAIL_ROOM // len(failures) - 12)
    said = "; ".join(f"{p} {c}" + (f" ({_cut(d, share)})" if d else "") for p, c, d in failures)
    return RasError(errors.ERROR_AUTOMATIC_VPN_FAILED, f"every VPN type failed: {said}")
