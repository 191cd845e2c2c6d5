"""One dial's reply stream, interpreted once for every client face (sans I/O).

A ``Dial`` call with ``more`` answers first with the attempt's handle (or a joined
connection), then with an event per state until the attempt ends. The blocking client, the
asyncio client, the CLI's session and the Win32 API all follow that stream; each feeds the
replies it reads to :meth:`DialFollower.feed` and acts on the :class:`Step` it gets back:
a state to report, a question to answer (RASCS_Interactive), the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openras import errors
from openras.records import Event
from openras.states import RasConnState


@dataclass(frozen=True)
class Question:
    """The link asks the dialer (a one-time code): answer with ``DialInput``."""

    handle: int
    prompt: str
    echo: bool


@dataclass(frozen=True)
class Step:
    """What one reply means: ``event`` to report (None: nothing new), ``question`` to
    answer, ``done`` when the attempt ended (then :meth:`DialFollower.outcome`)."""

    event: Event | None = None
    question: Question | None = None
    done: bool = False


class DialFollower:
    """The replies of one ``Dial`` call, in order."""

    def __init__(self, entry: str) -> None:
        self.entry = entry
        self.handle = 0
        self.joined = False
        #: The number the link dials, once it said (a modem's): the dialer then looks at
        #: which of the entry's numbers answered (:mod:`openras.promote`).
        self.dialed_number = ""
        self._last: dict[str, Any] = {}

    def feed(self, params: dict[str, Any], *, continues: bool) -> Step:
        """One reply's parameters (a wire error already raised by the caller) and whether
        more replies follow."""
        self._last = params
        event: Event | None
        if "event" not in params:  # the first reply: handle, state, joined
            self.handle = int(params["handle"])
            self.joined = bool(params.get("joined"))
            if self.joined:
                return Step(done=True)
            event = Event(
                kind="state",
                handle=self.handle,
                entry=self.entry,
                state=RasConnState(int(params["state"])),
                phase=str(params.get("phase", "")),
                error=int(params.get("error", 0)),
            )
        elif params.get("event") == "state":
            event = Event.from_wire(params)
            self.dialed_number = str(params.get("dialed_number") or self.dialed_number)
        else:
            event = None
        question = None
        if event is not None and event.state is RasConnState.Interactive and "prompt" in params:
            question = Question(self.handle, str(params["prompt"]), bool(params.get("echo")))
        return Step(event=event, question=question, done=not continues)

    def outcome(self) -> int:
        """The handle of the finished attempt, or its RasError raised (carrying the handle,
        which the caller must hang up, as RasDial's)."""
        final = self._last
        handle = int(final.get("handle") or self.handle)
        error = int(final.get("error", 0))
        state = int(final.get("state", 0))
        if error or state != RasConnState.Connected:
            raise errors.RasError.from_code(
                error or errors.ERROR_DISCONNECTION, final.get("detail") or None, handle=handle
            )
        return handle
