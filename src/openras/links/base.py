"""The contract between the connection manager and a link driver.

A driver turns one phonebook entry into one supervised real program. The manager owns the
connection's lifecycle; the link only *reports* what its program says (as :data:`LinkEvent`
values passed to ``emit``) and obeys ``request_stop``/``kill``. Rules every driver keeps:

* The program is started in its own session, with stdin from /dev/null and stdout/stderr to a
  log file in ``spec.run_dir`` (never a pipe back to the daemon: the link must survive a
  daemon crash), and with ``OPENRAS_LINK=<marker>`` in its environment so that a restarted
  daemon can find a link it spawned but never recorded.
* Secrets reach the program over its control channel or a 0600 file in ``run_dir``, never
  argv or the environment.
* ``wait_closed`` returns only when nothing of the link is left: process gone, interfaces,
  routes, rules and the run directory removed. That is the moment status starts answering 6.
* ``request_stop`` begins a stop that ends by itself: the link escalates to SIGKILL by its
  ``kill_deadline``; the manager only asks.
* ``record()`` is everything needed to ``adopt`` the link after a daemon restart.

Every driver implements this through :class:`openras.links.supervisor.SupervisedLink`, which
owns the run directory, the stop escalation and the teardown journal (``docs/links.md``,
"Writing a driver").
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from openras.policy import Grant
from openras.states import RasConnState


class EntryView(Protocol):
    """What a driver reads from a phonebook entry (case-insensitive keys, raw strings)."""

    @property
    def name(self) -> str: ...

    def get(self, key: str, default: str | None = None) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DialParams:
    """RASDIALPARAMS, as the manager resolved it (saved credentials already merged)."""

    entry_name: str = ""
    phone_number: str = ""
    callback_number: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    domain: str = ""
    #: The password came from the all-users credentials the administrator saved, not from
    #: the caller (the link must talk only to the all-users entry's own server).
    admin_credentials: bool = False
    #: The entry's saved IPsec pre-shared key (RASCM_PreSharedKey), for L2TP/IPsec.
    psk: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class LinkSpec:
    """Everything a driver needs to start one link."""

    handle: int
    owner_uid: int
    entry: EntryView
    params: DialParams
    run_dir: Path
    #: Value of ``OPENRAS_LINK`` in the program's environment.
    marker: str
    #: Path of the phonebook the entry came from (for relative paths in the entry).
    phonebook: Path | None = None
    #: What the driver's ``validate`` returned for this dial (the profile or config it read
    #: as the owner), for the first ``start`` to use instead of reading it again. None on a
    #: redial or adoption: the driver reads afresh. Never shown (it may hold keys).
    prepared: object | None = field(default=None, repr=False, compare=False)
    #: What the administrator's policy allows this dial (openras.policy); root: everything.
    #: A driver refuses (error 5, quoting ``grant.full_tunnel_rule``) what it may not do.
    grant: Grant = field(default_factory=Grant)


@dataclass(frozen=True)
class StateReached:
    """The program entered ``state`` (a running state, or Connected)."""

    state: RasConnState


@dataclass(frozen=True)
class LinkFailed:
    """The attempt failed in the current state with ``error`` (before Connected)."""

    error: int
    detail: str = ""


@dataclass(frozen=True)
class LinkLost:
    """An established link went down by itself with ``error`` (628, 629, 829...).

    The driver's event; a client that meets the drop gets the exception
    :class:`openras.errors.LinkDropped`."""

    error: int
    detail: str = ""


@dataclass(frozen=True)
class InputNeeded:
    """The dial waits for the user's answer to ``prompt`` (a one-time code the server asks
    for): RASCS_Interactive. The answer comes through ``Link.provide_input``."""

    prompt: str
    echo: bool = False


@dataclass(frozen=True)
class NumberDialed:
    """The link dials ``number`` now (a modem's digits after the dialing rules; an alternate
    number): RASCONNSTATUS's ``szPhoneNumber`` from here on."""

    number: str


@dataclass(frozen=True)
class RecordChanged:
    """The link's :meth:`Link.record` changed after ``start`` (another program now runs the
    link: the next tunnel type of a VPN strategy): the manager records it again."""


LinkEvent = StateReached | LinkFailed | LinkLost | InputNeeded | RecordChanged | NumberDialed
Emit = Callable[[LinkEvent], None]


@dataclass(frozen=True)
class LinkStats:
    """Counters of what the link really moved (RAS_STATS' meaningful fields)."""

    bytes_sent: int = 0
    bytes_received: int = 0
    frames_sent: int = 0
    frames_received: int = 0
    errors: int = 0
    bps: int = 0


@dataclass(frozen=True)
class Projection:
    """What the link negotiated: interface, tunnel addresses, DNS."""

    interface: str = ""
    local_address: str = ""
    remote_address: str = ""
    dns: tuple[str, ...] = ()
    local_address_v6: str = ""
    remote_address_v6: str = ""
    extra: Mapping[str, str] = field(default_factory=dict)


class Link(abc.ABC):
    """One supervised link program. Subclasses set ``driver`` and implement the I/O."""

    driver: ClassVar[str]
    #: RAS device type and name reported in RASCONN/RASCONNSTATUS.
    device_type: ClassVar[str] = "vpn"
    device_name: ClassVar[str] = "openras"
    #: Seconds between the graceful stop and SIGKILL (entries may override, up to the cap).
    default_kill_deadline: ClassVar[float] = 10.0
    #: No entry keeps a link program alive longer than this after a hang-up.
    MAX_KILL_DEADLINE: ClassVar[float] = 30.0

    #: Slots down to the drivers that declare theirs (the loopback): a thousand live links
    #: hold no attribute dict each.
    __slots__ = ("emit", "spec")

    def __init__(self, spec: LinkSpec, emit: Emit) -> None:
        self.spec = spec
        self.emit = emit

    @classmethod
    def validate(cls, spec: LinkSpec) -> object | None:
        """Check the entry before anything starts; raise RasError (handle 0) if unusable.

        Runs in a worker thread. What it returns (what it read, checked) reaches ``start``
        as ``spec.prepared``, so a dial reads its files once.
        """
        return None

    @property
    def kill_deadline(self) -> float:
        """``OpenRasKillDeadlineMs`` (plain decimal milliseconds), capped at
        MAX_KILL_DEADLINE; the driver's default when absent or not a number."""
        raw = (self.spec.entry.get("OpenRasKillDeadlineMs") or "").strip()
        if raw.isascii() and raw.isdigit() and len(raw) <= 9:
            return min(int(raw) / 1000, self.MAX_KILL_DEADLINE)
        return min(self.default_kill_deadline, self.MAX_KILL_DEADLINE)

    @abc.abstractmethod
    async def start(self) -> None:
        """Start the program and begin reporting events. Raise RasError if it cannot start."""

    @abc.abstractmethod
    async def wait_closed(self) -> None:
        """Return once the program is gone and every leftover is removed."""

    @abc.abstractmethod
    def request_stop(self) -> None:
        """Ask the program to stop the way it stops cleanly. Returns at once."""

    @abc.abstractmethod
    def kill(self) -> None:
        """Stop the program now (SIGKILL). Cleanup still happens in ``wait_closed``."""

    def when_stopping(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` (soon) once the link's stop has begun, asked for or its own end:
        the manager waits for ``wait_closed`` only from then on, so that a live link costs
        it no task. Default: at once (the caller then waits for the close right away)."""
        asyncio.get_running_loop().call_soon(callback)

    @abc.abstractmethod
    def record(self) -> dict[str, Any]:
        """JSON-able facts to find this link again after a daemon restart."""

    @classmethod
    @abc.abstractmethod
    async def adopt(cls, spec: LinkSpec, record: Mapping[str, Any], emit: Emit) -> Link | None:
        """Re-attach to a live link from ``record``; None (after cleaning up) if it is gone.

        An adopted link re-derives its state from the program and emits it.
        """

    @classmethod
    async def cleanup_orphan(cls, spec: LinkSpec) -> None:
        """Remove what a link that was started but never recorded left behind.

        rasman awaits this on a restart after a crash, once it has killed (and waited for)
        a link process marked with its instance whose handle had no record: the program is
        dead, only ``spec`` (handle, entry snapshot, run dir; no params) is known: what the
        run dir's teardown journal names is removed (SupervisedLink). Must not raise for
        something already gone. Default: nothing.
        """
        return None

    def provide_input(self, text: str | None) -> bool:
        """The user's answer to the last :class:`InputNeeded` (None: the dialer allows no
        questions; the dial fails with 703). False when the link asked nothing."""
        return False

    async def statistics(self) -> LinkStats:
        return LinkStats()

    async def projection(self) -> Projection | None:
        return None
