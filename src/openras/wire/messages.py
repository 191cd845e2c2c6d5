"""The interface's calls as types: one msgspec Struct per method's parameters and reply.

The daemon decodes every call's parameters into its Struct (:func:`decode`) before a
handler sees them, so a type, a length or a NUL is refused in one place, with the field
named; the interface description ``varlinkctl introspect`` shows is generated from these
Structs (:func:`interface_description`), so it cannot drift from what the daemon takes; and
a test checks the daemon's real replies against the reply Structs.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any, Final, Union

import msgspec
from msgspec import Meta, Struct

from openras import errors

_NO_NUL: Final = r"^[^\x00]*$"
#: Windows' field limits (RAS_MaxEntryName, RAS_MaxPhoneNumber, UNLEN, PWLEN, DNLEN).
Name = Annotated[str, Meta(max_length=256, pattern=_NO_NUL)]
Number = Annotated[str, Meta(max_length=128, pattern=_NO_NUL)]
Domain = Annotated[str, Meta(max_length=15, pattern=_NO_NUL)]
Path = Annotated[str, Meta(max_length=4096, pattern=_NO_NUL)]
Text = Annotated[str, Meta(max_length=4096, pattern=_NO_NUL)]


class _In(Struct, kw_only=True):
    """Parameters of a call (unknown fields are ignored: a newer client may send more)."""


class _Out(Struct, kw_only=True):
    """A reply."""


# ---------------------------------------------------------------------------- parameters


class NoParams(_In):
    pass


class DialIn(_In):
    entry: Name = ""
    phonebook: Path = ""
    user_phonebook: Path = ""
    user: Name = ""
    password: Name = ""
    domain: Domain = ""
    phone_number: Number = ""
    callback_number: Number = ""
    #: The dialer answers the link's questions (RASCS_Interactive); else they fail it (703).
    interactive: bool = False


class HandleIn(_In):
    handle: int


class DialInputIn(_In):
    handle: int
    text: Text = ""


class HangUpIn(_In):
    handle: int
    wait: bool = False
    force: bool = False


class EnumIn(_In):
    include_pending: bool = False
    #: Rows as RASCONN arrays (``manager.rows.RASCONN_FIELDS``) under ``rasconn``, instead
    #: of records under ``connections``: what RasEnumConnections needs, a third of the bytes.
    rasconn: bool = False


class SubscribeIn(_In):
    handle: int | None = None


class CredentialsIn(_In):
    entry: Name = ""
    phonebook: Path = ""
    user_phonebook: Path = ""
    #: The all-users defaults (root) instead of the caller's own.
    default: bool = False


class Mask(Struct, frozen=True, kw_only=True):
    user: bool = False
    password: bool = False
    domain: bool = False
    #: RASCM_PreSharedKey: the entry's IPsec pre-shared key (``psk``).
    psk: bool = False


class SetCredentialsIn(CredentialsIn):
    user: Name = ""
    password: Name = ""
    domain: Domain = ""
    psk: Name = ""
    #: Which of user, password, domain and psk to set (the others stay as saved).
    mask: Mask = Mask()
    clear: bool = False


class EntryRenamedIn(_In):
    phonebook: Path = ""
    old: Name = ""
    new: Name = ""


class EntryDeletedIn(_In):
    phonebook: Path = ""
    entry: Name = ""


class InterfaceIn(_In):
    interface: Text = ""


# ---------------------------------------------------------------------------- replies


class Empty(_Out):
    pass


class Connection(_Out):
    handle: int
    entry: str
    entry_name: str
    phonebook: str
    phone_number: str
    device_type: str
    device_name: str
    driver: str
    ras_device_type: str
    ras_device_name: str
    correlation_id: str
    guid: str
    all_users: bool
    owner: int
    phase: str
    state: int
    error: int
    refs: int
    created: float
    connected_at: float | None = None
    detail: str = ""
    #: The number being dialed as dialed (dialing rules, alternates); "" until a link says.
    dialed_number: str = ""


class DialOut(_Out):
    """The first reply (then, with ``more``, a state event per change until the end)."""

    handle: int
    state: int
    error: int
    phase: str
    joined: bool = False


class EnumOut(_Out):
    connections: list[Connection]


class StatisticsOut(_Out):
    bytes_sent: int
    bytes_received: int
    frames_sent: int
    frames_received: int
    errors: int
    bps: int
    send_bps: int
    receive_bps: int
    duration_ms: int


class ProjectionOut(_Out):
    interface: str
    local_address: str
    remote_address: str
    local_address_v6: str
    remote_address_v6: str
    dns: list[str]
    extra: dict[str, str]


class EventOut(_Out):
    """A change (``created``, ``state``, ``disconnected``), streamed by Subscribe and Dial."""

    event: str
    handle: int | None = None
    owner: int | None = None
    entry: str | None = None
    phase: str | None = None
    state: int | None = None
    error: int | None = None
    detail: str | None = None
    old_state: int | None = None
    #: With state Interactive (4096): the link's question for the dialer.
    prompt: str | None = None
    echo: bool | None = None


class HistoryOut(_Out):
    disconnects: list[dict[str, Any]]


class CredentialsOut(_Out):
    entry: str
    phonebook: str
    user: str
    domain: str
    has_password: bool
    #: A placeholder when a password is saved (never the password itself).
    password: str
    #: An IPsec pre-shared key is saved (it never leaves the daemon either).
    has_psk: bool = False


class MovedOut(_Out):
    moved: int


class ForgottenOut(_Out):
    forgotten: int


class PingOut(_Out):
    version: str
    uid: int
    pid: int
    sessions: int
    subscribers: int


class InfoOut(_Out):
    vendor: str
    product: str
    version: str
    url: str
    interfaces: list[str]


class DescriptionOut(_Out):
    description: str


# ---------------------------------------------------------------------------- the interface

#: method name (short) -> (parameters, reply, what the method does).
METHODS: Final[dict[str, tuple[type[_In], type[_Out], str]]] = {
    "Dial": (DialIn, DialOut, "Streams (more) state events until Connected or failure; the "
             "first reply has the handle."),
    "DialInput": (DialInputIn, Empty, "The dialer's answer to a question the link asks "
                  "(an event with state Interactive, 4096, carries prompt and echo)."),
    "HangUp": (HangUpIn, Empty, "Starts the hang-up; with wait, replies once the handle is "
               "gone; force: killed at once."),
    "WaitDeleted": (HandleIn, Empty, "Replies once the handle is gone."),
    "GetConnectStatus": (HandleIn, Connection, "One connection."),
    "EnumConnections": (EnumIn, EnumOut, "The caller's connections (root: all)."),
    "GetStatistics": (HandleIn, StatisticsOut, "What the link moved."),
    "GetProjection": (HandleIn, ProjectionOut, "What the link negotiated."),
    "Subscribe": (SubscribeIn, EventOut, "Streams (more) every change the caller may see."),
    "History": (NoParams, HistoryOut, "How recent connections ended."),
    "GetCredentials": (CredentialsIn, CredentialsOut, "What is saved for an entry."),
    "SetCredentials": (SetCredentialsIn, Empty, "Saves (mask) or clears saved credentials."),
    "EntryRenamed": (EntryRenamedIn, MovedOut, "Saved credentials follow a renamed entry."),
    "EntryDeleted": (EntryDeletedIn, ForgottenOut, "A deleted entry's credentials go."),
    "Ping": (NoParams, PingOut, "Who the caller is to the daemon, and its load."),
}  # fmt: skip


def decode(method: str, params: dict[str, Any], kind: type[_In]) -> Any:
    """``params`` as ``kind``: RasError 87 naming the field when a value is of the wrong type,
    too long or holds a NUL (6 for a handle that is no integer: it names no connection).
    A null counts as absent."""
    clean = {k: v for k, v in params.items() if v is not None}
    try:
        return msgspec.convert(clean, kind, strict=True)
    except msgspec.ValidationError as exc:
        where = str(exc)
        if "$.handle" in where or "field `handle`" in where:
            raise errors.InvalidHandle(detail=f"{method}: {where}") from None
        raise errors.InvalidParameter(detail=f"{method}: {where}") from None


def _idl_type(tp: Any, named: dict[str, type[Struct]]) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Annotated:
        return _idl_type(args[0], named)
    if origin in (Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        return "?" + _idl_type(rest[0], named)
    if origin is list:
        return "[]" + _idl_type(args[0], named)
    if origin is dict:
        return "object" if args[1] is Any else "[string]" + _idl_type(args[1], named)
    if isinstance(tp, type) and issubclass(tp, Struct):
        named[tp.__name__] = tp
        return tp.__name__
    return {str: "string", int: "int", float: "float", bool: "bool"}.get(tp, "object")


def _fields(kind: type[Struct], named: dict[str, type[Struct]]) -> str:
    hints = typing.get_type_hints(kind, include_extras=True)
    out = []
    for f in msgspec.structs.fields(kind):
        idl = _idl_type(hints[f.name], named)
        optional = f.required is False and not idl.startswith("?")
        out.append(f"{f.name}: {'?' if optional else ''}{idl}")
    return ", ".join(out)


def interface_description(interface: str) -> str:
    """The interface in varlink's IDL, generated from the Structs above."""
    named: dict[str, type[Struct]] = {}
    lines = ["# The openras connection manager: RAS connections owned by rasman, not the apps.",
             f"interface {interface}", ""]  # fmt: skip
    methods = []
    for name, (params, reply, doc) in METHODS.items():
        methods += [f"# {doc}", f"method {name}({_fields(params, named)})"]
        methods += [f"  -> ({_fields(reply, named)})"]
    done: set[str] = set()
    while set(named) - done:
        for tname in sorted(set(named) - done):
            done.add(tname)
            lines.append(f"type {tname} ({_fields(named[tname], named)})")
    lines += ["", *methods, ""]
    lines.append("# needs: what a retry must add; credentials = a user name and password.")
    lines.append(
        "error RasError (code: int, message: string, detail: ?string, handle: ?int, needs: ?string)"
    )
    return "\n".join(lines) + "\n"
