"""Client plumbing both commands share: a dial that can be followed, hang-up to the end.

Kept to what ``openras.client`` already imports, so ``rasdial`` stays fast. Three things here
go beyond :class:`~openras.client.Client` and belong in the library eventually:

* :func:`follow_dial` tells a fresh dial from joining a connected entry (the reply's
  ``joined``), and wakes the caller while a state lasts (for spinners and deadlines);
* :func:`end_connection` ends a connection whatever its reference count, then waits until the
  handle is invalid (``Client.hang_up(wait=True)`` waits forever on a shared connection);
* :class:`EventStream` is a subscription that is known to be live before the caller acts, and
  whose reads time out without breaking the stream.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from openras import errors
from openras.cli._connect import open_client, open_transport
from openras.cli._term import ask_line
from openras.records import ConnectionInfo, Event
from openras.wire import protocol as P
from openras.wire.follow import DialFollower, Question

if TYPE_CHECKING:  # imported where used: `rasdial /?` and usage errors need no wire codec
    from openras.client import Client
    from openras.wire.transport import Transport

#: How long a hang-up may take before we give up waiting (the daemon kills stuck links
#: well before this).
HANGUP_TIMEOUT = 30.0


class DialInterrupted(Exception):
    """The user interrupted a dial; ``handle`` is the attempt to hang up (0 if unknown)."""

    def __init__(self, handle: int) -> None:
        super().__init__(handle)
        self.handle = handle


@dataclass(frozen=True)
class DialResult:
    """A dial that reached Connected; ``joined`` if the entry was connected before it."""

    handle: int
    joined: bool


def _recv(t: Transport, wait: float | None) -> dict[str, Any] | None:
    """The next message, or ``None`` if ``wait`` seconds pass first (the stream stays usable)."""
    t.sock.settimeout(None if wait is None else max(wait, 0.001))  # 0 would mean non-blocking
    try:
        return t.recv()
    except TimeoutError:
        return None
    except (ConnectionError, BrokenPipeError) as exc:
        raise errors.ManagerUnavailable(detail=str(exc)) from None


def follow_dial(
    t: Transport,
    entry: str,
    phonebook: str | None,
    *,
    user: str = "",
    password: str = "",
    domain: str = "",
    phone_number: str = "",
    callback_number: str = "",
    on_state: Callable[[Event], None] | None = None,
    on_idle: Callable[[], None] | None = None,
    idle: float | None = None,
    deadline: float | None = None,
    on_input: Callable[[Question], None] | None = None,
) -> DialResult:
    """Dial over ``t`` and return once Connected.

    ``on_state`` gets each state as it arrives; ``on_idle`` is called every ``idle`` seconds
    while nothing arrives. A failure raises RasError with ``.handle`` set when a handle exists
    (the caller must hang it up); passing ``deadline`` (``time.monotonic()`` value) raises
    RasError 638 with the handle. Ctrl-C raises :class:`DialInterrupted` carrying the handle.
    ``on_input`` gets the link's questions (RASCS_Interactive) and answers them itself
    (another connection: this one holds the dial); without it such a dial fails with 703.
    """
    from openras.client import dial_parameters

    params = dial_parameters(
        entry,
        phonebook,
        user=user,
        password=password,
        domain=domain,
        phone_number=phone_number,
        callback_number=callback_number,
        interactive=on_input is not None,
    )
    follower = DialFollower(entry)
    handle = 0
    try:
        t.send(P.call(P.DIAL, params, more=True))
        while True:
            wait = idle
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise errors.RasError(
                        errors.ERROR_REQUEST_TIMEOUT, "the dial took too long", handle=handle
                    )
                wait = left if wait is None else min(wait, left)
            msg = _recv(t, wait)
            if msg is None:
                if on_idle is not None:
                    on_idle()
                continue
            step = follower.feed(P.raise_for_error(msg), continues=bool(msg.get("continues")))
            handle = follower.handle
            if step.event is not None and on_state is not None:
                on_state(step.event)
            if step.question is not None and on_input is not None:
                asked = time.monotonic()
                on_input(step.question)
                if deadline is not None:  # the time spent answering is not the dial's
                    deadline += time.monotonic() - asked
            if step.done:
                follower.outcome()
                if follower.dialed_number:  # a modem's: an alternate may be promoted
                    from openras import promote

                    promote.after_connected(t.call, handle, follower.dialed_number)
                return DialResult(handle, joined=follower.joined)
    except KeyboardInterrupt:
        raise DialInterrupted(handle) from None
    except (ConnectionError, BrokenPipeError) as exc:
        raise errors.ManagerUnavailable(detail=str(exc)) from None


def answer_question(socket: str | None, question: Question) -> None:
    """The server's question (a one-time code) asked at the terminal and answered; an empty
    or no answer hangs the attempt up."""
    import getpass

    prompt = question.prompt.rstrip().rstrip(":") + ": "
    try:
        text = ask_line(prompt) if question.echo else getpass.getpass(prompt)
    except EOFError:
        text = None
    with open_client(socket) as client:
        if text:
            client.provide_input(question.handle, text)
        else:
            hang_up_quietly(client, question.handle)


def find_abandoned_attempt(client: Client, entry: str, since: float) -> int:
    """The handle of ``entry``'s attempt started after ``since`` (wall clock), or 0.

    For a dial interrupted before its first reply: the daemon may already have created the
    attempt, and nobody else can have (a second dial of a dialing entry fails with 756).
    """
    for info in client.connections(include_pending=True):
        if info.phase == "dialing" and same_name(info.entry, entry) and info.created >= since:
            return info.handle
    return 0


def same_name(a: str, b: str) -> bool:
    """Entry names compare without regard to case, as on Windows."""
    return a.casefold() == b.casefold()


def end_connection(
    client: Client,
    handle: int,
    timeout: float | None = HANGUP_TIMEOUT,
    *,
    wait: bool = True,
    force: bool = False,
) -> None:
    """Hang ``handle`` up for good and, with ``wait``, return once it is invalid.

    A connected entry dialed twice holds two references and one hang-up only drops one, so
    this hangs up until the connection starts tearing down, then waits for the teardown
    (RasError 638 after ``timeout``). RasError 6 if the handle is not the caller's.
    ``force``: one forced hang-up (every reference, the program killed at once).
    """
    if force:
        client.hang_up(handle, wait=False, force=True)
        if wait:
            client.wait_gone(handle, timeout)
        return
    refs = client.status(handle).refs
    for _ in range(max(1, refs) + 2):  # + 2: someone may join while we hang up
        try:
            client.hang_up(handle, wait=False)
            info = client.status(handle)
        except errors.InvalidHandle:
            return  # gone already (a link that dropped, another hang-up)
        if info.phase != "connected":
            break
    if wait:
        client.wait_gone(handle, timeout)


def drop_reference(client: Client, handle: int) -> None:
    """Give back one reference (a dial that joined a connected entry) without waiting."""
    client.hang_up(handle, wait=False)


def hang_up_quietly(client: Client, handle: int, timeout: float | None = HANGUP_TIMEOUT) -> None:
    """Release a failed or interrupted attempt; errors here must not hide the dial's own."""
    with contextlib.suppress(errors.RasError, OSError):
        client.hang_up(handle, wait=True, timeout=timeout)


class EventStream:
    """A subscription that is live when the constructor returns, with bounded reads.

    Subscribe first, then act (hang up, dial), so that no event of the action is missed.
    """

    def __init__(self, socket: str | None, handle: int | None = None) -> None:
        self._t = open_transport(socket)
        params: dict[str, Any] = {} if handle is None else {"handle": handle}
        try:
            self._t.send(P.call(P.SUBSCRIBE, params, more=True))
            first = P.raise_for_error(self._t.recv())
        except (ConnectionError, BrokenPipeError) as exc:
            self._t.close()
            raise errors.ManagerUnavailable(detail=str(exc)) from None
        if first.get("event") != "subscribed":  # pragma: no cover - protocol guarantee
            self._t.close()
            raise errors.RasError(errors.ERROR_UNKNOWN, "subscription was not acknowledged")

    def next(self, wait: float | None) -> Event | None:
        """The next event, or ``None`` after ``wait`` seconds without one (``None``: forever)."""
        msg = _recv(self._t, wait)
        return None if msg is None else Event.from_wire(P.raise_for_error(msg))

    def __iter__(self) -> Iterator[Event]:
        while True:
            event = self.next(None)
            if event is not None:
                yield event

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> EventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connections_named(
    client: Client, entry: str, phonebook: str | None = None, *, include_pending: bool = True
) -> list[ConnectionInfo]:
    """The caller's connections of ``entry`` (optionally only from ``phonebook``)."""
    book = os.path.abspath(phonebook) if phonebook else None
    return [
        info
        for info in client.connections(include_pending=include_pending)
        if same_name(info.entry, entry) and (book is None or info.phonebook == book)
    ]
