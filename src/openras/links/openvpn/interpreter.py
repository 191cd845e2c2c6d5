"""What openvpn says, decided: management events in, actions out, no I/O.

The driver (``driver.py``) owns the process, the socket and the clock; it feeds every
real-time event of the management interface (``parser.ManagementParser``) to
:meth:`Interpreter.event`, and the moments it alone knows (an early log check, the dial
deadline, the program's exit, the pushed options read at Connected) to their methods. Each
returns the actions to carry out, in order: :class:`Send` commands, :class:`Report` a state,
:class:`End` the attempt (failed, or dropped once connected), :class:`ReadPush` the pushed
options from the log. The log itself reaches the interpreter through ``recent_log``, a
function handed in, so recorded transcripts drive it in unit tests exactly as openvpn does.
"""

from __future__ import annotations

import base64
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from openras import errors
from openras.errors import RasError
from openras.links.openvpn import parser as mp
from openras.links.openvpn import profile as pf
from openras.policy import Grant
from openras.states import RasConnState

#: Lines of what came over the socket kept to explain a failure (FATAL, NOTIFY, resync).
LOG_KEEP = 80
#: Refused port (808), unresolvable name (868), no route (769): the dial fails at once.
FAIL_EARLY = frozenset(
    {
        errors.ERROR_VPN_REFUSED,
        errors.ERROR_DNSNAME_NOT_RESOLVABLE,
        errors.ERROR_BAD_ADDRESS_SPECIFIED,
    }
)


@dataclass(frozen=True)
class Send:
    """Write these commands on the management socket, in one write."""

    commands: tuple[str, ...]
    secret: bool = False


@dataclass(frozen=True)
class Report:
    """The link reached ``state``."""

    state: RasConnState


@dataclass(frozen=True)
class End:
    """The attempt failed (or, once connected, the link dropped) with ``code``."""

    code: int
    detail: str


@dataclass(frozen=True)
class Ask:
    """The server wants an answer from the user (a one-time code): ``prompt``, shown with
    the typing echoed or not; the driver hands the answer to :meth:`Interpreter.answer`."""

    prompt: str
    echo: bool


@dataclass(frozen=True)
class ReadPush:
    """Read the server's PUSH_REPLY from the log and hand it to :meth:`Interpreter.pushed`
    (after the Connected that asked for it is out)."""


Action = Send | Report | End | ReadPush | Ask


@dataclass(frozen=True)
class Challenge:
    """What the server asked and how the answer goes back.

    ``static``: the profile's ``static-challenge`` (``SC:<flags>,<text>``; the answer goes
    with the password as ``SCRV1:<b64 password>:<b64 answer>``, or appended to it when flag
    bit 1 says so). ``dynamic``: the server refused the first login with
    ``CRV1:<flags>:<state id>:<b64 user>:<text>``; openvpn asks again and the answer goes
    as the password ``CRV1::<state id>::<answer>``. ``text``: ``CR_TEXT`` (a pending
    authentication), answered with ``cr-response <b64 answer>``.
    """

    kind: str
    prompt: str
    echo: bool
    state_id: str = ""
    user: str = ""
    concat: bool = False


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode("ascii")


def parse_static(what: str) -> Challenge | None:
    """``SC:<flags>,<text>`` of a ``>PASSWORD:Need 'Auth'`` request, if there is one."""
    _, sep, rest = what.partition("SC:")
    flags, comma, text = rest.partition(",")
    if not sep or not comma or not flags.isdigit():
        return None
    bits = int(flags)
    return Challenge("static", text, echo=bool(bits & 1), concat=bool(bits & 2))


def parse_crv1(detail: str) -> Challenge | None:
    """``CRV1:<flags>:<state id>:<b64 user>:<text>`` in a verification failure's detail."""
    start = detail.find("CRV1:")
    if start < 0:
        return None
    body = detail[start + 5 :].rstrip("']\n ")
    parts = body.split(":", 3)
    if len(parts) != 4 or not parts[1]:
        return None
    flags, state_id, user64, text = parts
    try:
        user = base64.b64decode(user64, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return Challenge("dynamic", text, echo="E" in flags.split(","), state_id=state_id, user=user)


def parse_cr_text(payload: str) -> Challenge | None:
    """``CR_TEXT:<flags>:<text>`` of an ``>INFOMSG:``."""
    _, sep, rest = payload.partition("CR_TEXT:")
    flags, colon, text = rest.partition(":")
    if not sep or not colon:
        return None
    return Challenge("text", text, echo="E" in flags.split(","))


Credentials = Callable[[], tuple[str, str]]


class Interpreter:
    """One openvpn client's management conversation, decided."""

    def __init__(
        self,
        *,
        credentials: Credentials,
        recent_log: Callable[[], list[str]],
        grant: Grant,
        early: bool = False,
    ) -> None:
        #: The user name and password to answer with (RasError when there are none).
        self._credentials = credentials
        self._file_log = recent_log
        self._grant = grant
        #: One server only: a refusal or an unresolvable name ends the dial at once.
        self.early = early
        self.state: RasConnState | None = None
        self.connected = False
        #: The interpreter ended the link (End was returned).
        self.terminal = False
        #: The driver was asked to stop: nothing more is reported.
        self.stopping = False
        #: After adoption, until :meth:`resynced`: holds are left to the resync.
        self.resyncing = False
        self.holds = 0
        self.answered_server = False
        self.bytes = (0, 0)
        self.connected_line: mp.State | None = None
        self.push: mp.PushInfo | None = None
        self._restart_reason = ""
        self._exit_reason = ""
        self._fatal = ""
        self._auth_failed = ""
        self._log: deque[str] = deque(maxlen=LOG_KEEP)
        #: The question the user is asked now (None: none).
        self.challenge: Challenge | None = None
        #: A dynamic challenge answered: openvpn's next request for credentials gets this.
        self._crv1_answer: tuple[str, str] | None = None
        #: openvpn asked for credentials while the user still thinks about a dynamic one.
        self._waiting_for_answer = False
        #: The answer to a dynamic challenge went out (a refusal now is the answer's).
        self._crv1_sent = False

    @property
    def ended(self) -> bool:
        return self.terminal or self.stopping

    def recent_log(self) -> list[str]:
        """openvpn's latest log lines and what came over the socket that explains a failure."""
        return [*self._file_log(), *self._log]

    def end(self, code: int, detail: str) -> list[Action]:
        """End the link (once)."""
        if self.ended:
            return []
        self.terminal = True
        return [End(code, detail)]

    # ------------------------------------------------------------------ events

    def event(self, ev: mp.Event) -> list[Action]:
        """A real-time event (command replies are the driver's, not decisions)."""
        if isinstance(ev, mp.State):
            return self._on_state(ev)
        if isinstance(ev, mp.Hold):
            return self._on_hold()
        if isinstance(ev, mp.PasswordRequest):
            return self._on_password(ev)
        if isinstance(ev, mp.PasswordFailed):
            crv1 = parse_crv1(ev.detail) if ev.realm == "Auth" else None
            if crv1 is not None and not self.ended:
                self._crv1_sent = False
                return self._ask(crv1)  # openvpn restarts and asks again (auth-retry interact)
            self._auth_failed = f"openvpn: {ev.realm} verification failed {ev.detail}".strip()
            return self.end(errors.ERROR_AUTHENTICATION_FAILURE, self._auth_failed)
        if isinstance(ev, mp.ByteCount):
            self.bytes = (ev.bytes_in, ev.bytes_out)
        elif isinstance(ev, mp.Fatal):
            self._fatal = ev.text
            self._log.append(ev.text)
        elif isinstance(ev, mp.Log):
            self.log_line(ev.text)
        elif isinstance(ev, mp.Notification):
            return self._on_notification(ev)
        return []

    def log_line(self, text: str) -> None:
        self._log.append(text)
        if "PUSH_REPLY" in text:
            push = mp.parse_push_reply(text)
            if push is not None:
                self.push = push

    def _on_state(self, st: mp.State) -> list[Action]:
        if st.name == "RECONNECTING":
            self._restart_reason = st.reason
            if self.connected:
                code = mp.reason_error(st.reason, connected=True)
                return self.end(code, f"openvpn restarted: {st.reason}")
            if st.reason == "auth-failure" and self._challenged():
                return []  # the restart a dynamic challenge makes
            if st.reason == "auth-failure":
                return self.end(errors.ERROR_AUTHENTICATION_FAILURE, "openvpn: auth-failure")
            # Retrying cannot fix a rejected certificate or key: fail now, not at timeout.
            found = mp.classify_text(self.recent_log())
            if found is not None and found[0] in mp.DEFINITIVE:
                return self.end(*found)
            return []
        if st.name == "EXITING":
            self._exit_reason = st.reason
            return [] if self.stopping else self.end(*self.failure())
        state = mp.ras_state(st.name)
        if state is None or self.terminal:
            return []
        if state is not RasConnState.ConnectDevice:
            self.answered_server = True
        out: list[Action] = []
        if state is RasConnState.Connected:
            self.connected_line = st
            self.connected = True
        if state is not self.state:
            self.state = state
            out.append(Report(state))
        if state is RasConnState.Connected:
            out.append(ReadPush())
        return out

    def _challenged(self) -> bool:
        """A dynamic challenge is being answered (openvpn restarts for it)."""
        asked = self.challenge is not None and self.challenge.kind == "dynamic"
        return asked or self._crv1_answer is not None or self._crv1_sent

    def _on_hold(self) -> list[Action]:
        self.holds += 1
        if self.holds == 1 or self.ended or self.resyncing:
            return []  # the driver releases the first hold, the resync decides after adoption
        if not self.connected:
            return [Send(("hold release",))]
        return []

    def _on_password(self, req: mp.PasswordRequest) -> list[Action]:
        if self.ended:
            return []
        if req.realm == "Auth":
            if self.challenge is not None and self.challenge.kind == "dynamic":
                self._waiting_for_answer = True  # openvpn asks before the user answered
                return []
            if self._crv1_answer is not None:
                user, password = self._crv1_answer  # the dynamic challenge's answer
                self._crv1_answer = None
                self._crv1_sent = True
                return self._login(user, password)
            static = parse_static(req.what)
            if static is not None:
                return self._ask(static)
            try:
                user, password = self._credentials()
            except RasError as exc:
                return self.end(exc.code, exc.detail or "")
            return self._login(user, password)
        if req.realm == "Private Key":
            return self.end(
                errors.ERROR_EAPTLS_PASSWD_INVALID,
                "the private key needs a passphrase; use an unencrypted key",
            )
        return self.end(
            errors.ERROR_AUTHENTICATION_FAILURE,
            f"openvpn asks for {req.realm!r} {req.what}, which openras cannot answer",
        )

    def _login(self, user: str, password: str) -> list[Action]:
        if "\n" in user or "\n" in password or "\r" in user + password:
            return self.end(errors.ERROR_AUTHENTICATION_FAILURE, "line break in credentials")
        commands = (
            f"username {mp.quote('Auth')} {mp.quote(user)}",
            f"password {mp.quote('Auth')} {mp.quote(password)}",
        )
        return [Send(commands, secret=True)]

    def _ask(self, challenge: Challenge) -> list[Action]:
        self.challenge = challenge
        self.state = None  # whatever openvpn says after the answer is news again
        prompt = challenge.prompt.strip() or "Response"
        return [Ask(prompt, challenge.echo)]

    def answer(self, text: str | None) -> list[Action]:
        """The user's answer to :attr:`challenge` (None: nobody may answer: 703)."""
        challenge, self.challenge = self.challenge, None
        if challenge is None or self.ended:
            return []
        if text is None:
            return self.end(
                errors.ERROR_INTERACTIVE_MODE,
                f"the server asks {challenge.prompt.strip()!r} and the dial allows no questions",
            )
        if "\n" in text or "\r" in text:
            return self.end(errors.ERROR_AUTHENTICATION_FAILURE, "line break in the answer")
        if challenge.kind == "text":
            return [Send((f"cr-response {_b64(text)}",), secret=True)]
        if challenge.kind == "dynamic":
            # openvpn asks for the credentials again (auth-retry interact): they go then,
            # or now if it asked already.
            login = (challenge.user, f"CRV1::{challenge.state_id}::{text}")
            if self._waiting_for_answer:
                self._waiting_for_answer = False
                self._crv1_sent = True
                return self._login(*login)
            self._crv1_answer = login
            return []
        try:
            user, password = self._credentials()
        except RasError as exc:
            return self.end(exc.code, exc.detail or "")
        if challenge.concat:
            return self._login(user, password + text)
        return self._login(user, f"SCRV1:{_b64(password)}:{_b64(text)}")

    def _on_notification(self, ev: mp.Notification) -> list[Action]:
        if ev.kind in ("NEED-OK", "NEED-STR", "NEED-CERTIFICATE", "RSA_SIGN", "PK_SIGN"):
            return self.end(mp.GENERIC_DIAL_FAILURE, f"openvpn asks for {ev.kind}: {ev.payload}")
        if ev.kind == "INFOMSG" and ev.payload.startswith("CR_TEXT"):
            challenge = parse_cr_text(ev.payload)
            if challenge is not None and not self.ended:
                return self._ask(challenge)
        if ev.kind == "INFOMSG" and ev.payload.startswith(("WEB_AUTH", "OPEN_URL", "CR_TEXT")):
            return self.end(
                errors.ERROR_AUTHENTICATION_FAILURE,
                "the server asks for web authentication, which openras cannot do",
            )
        if ev.kind == "NOTIFY":
            self._log.append(ev.payload)
        return []

    # ------------------------------------------------------------------ moments

    def pushed(self, log_text: str) -> list[Action]:
        """The log once connected (its PUSH_REPLY precedes CONNECTED). Without a full
        tunnel, a pushed address whose subnet routes too much ends the link:
        ``--route-nopull`` stops pushed routes, not the subnet of a pushed ``ifconfig``."""
        if self.push is None:
            for line in reversed(log_text.splitlines()):
                if "PUSH_REPLY" in line and (push := mp.parse_push_reply(line)) is not None:
                    self.push = push
                    break
        push = self.push
        if push is None or self._grant.full_tunnel:
            return []
        why = pf.pushed_coverage_problem(
            push.ifconfig_remote, push.ifconfig_ipv6_network, push.topology
        )
        if why is None:
            return []
        return self.end(
            errors.ERROR_ACCESS_DENIED,
            f"{why}: a full tunnel is not allowed by policy ({self._grant.full_tunnel_rule})",
        )

    def early_check(self) -> list[Action]:
        """A look at the log early in the dial: a refused port, a name that does not
        resolve or no route cannot get better (openvpn would retry quietly for a minute).
        Only with one server (with several, openvpn tries the next)."""
        if self.connected or self.ended or not self.early:
            return []
        found = mp.classify_text(self.recent_log())
        if found is not None and found[0] in FAIL_EARLY:
            return self.end(*found)
        return []

    def dial_deadline(self) -> list[Action]:
        if self.connected or self.ended:
            return []
        found = mp.classify_text(self.recent_log())
        if found is not None and found[0] != errors.ERROR_VPN_TIMEOUT:
            return self.end(*found)
        if self.answered_server:
            return self.end(errors.ERROR_REQUEST_TIMEOUT, "dial timeout after the server answered")
        return self.end(errors.ERROR_VPN_TIMEOUT, "dial timeout: the server did not answer")

    def exited(self) -> list[Action]:
        """openvpn exited and nobody asked it to."""
        return [] if self.ended else self.end(*self.failure())

    def failure(self) -> tuple[int, str]:
        """The best code for how things ended (or failed), with a line that explains it."""
        if self._auth_failed or self._exit_reason == "auth-failure":
            return errors.ERROR_AUTHENTICATION_FAILURE, self._auth_failed or "openvpn: auth-failure"
        reason = self._exit_reason or self._restart_reason
        if self.connected:
            if reason:
                return mp.reason_error(reason, connected=True), f"openvpn: {reason}"
            return errors.ERROR_DISCONNECTION, "openvpn exited"
        found = mp.classify_text([*self.recent_log(), self._fatal])
        if found is not None:
            return found
        if reason:
            return mp.reason_error(reason, connected=False), f"openvpn: {reason}"
        return mp.GENERIC_DIAL_FAILURE, "openvpn exited"

    # ------------------------------------------------------------------ adoption

    def resync(self, log_lines: list[str], history: list[mp.State]) -> list[Action]:
        """After adoption: the log (``log all``) and the state history (``state all``).
        A restart after CONNECTED (openvpn then sits in CONNECTING/HOLD) is a drop that
        happened while nobody watched."""
        for line in log_lines:
            self.log_line(line)
        current = history[-1]
        self._log.clear()  # old history must not explain a new failure
        names = [s.name for s in history]
        last_up = max((i for i, n in enumerate(names) if n == "CONNECTED"), default=None)
        ended = [s for s in history[(last_up or 0) :] if s.name in ("RECONNECTING", "EXITING")]
        if ended and (last_up is not None or ended[-1].name == "EXITING"):
            self.connected = last_up is not None
            end = ended[0] if last_up is not None else ended[-1]
            code = mp.reason_error(end.reason, connected=self.connected)
            return self.end(code, f"openvpn {end.name.lower()}: {end.reason}")
        self.resyncing = False
        self.holds = 1
        out: list[Action] = []
        if current.name != "CONNECTED":
            out.append(Send(("hold release",)))  # still dialing: go on (it may be held)
        return out + self._on_state(current)
