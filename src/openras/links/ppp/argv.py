"""The typed model of a PPP entry and pppd's argv built from it (never the entry's text).

Root runs pppd for any user's entry, and pppd's option parser is powerful (``file``,
``call``, ``plugin``, ``connect``, ``init``, ``ip-up-script`` run or load what they name).
So nothing of the entry reaches it as an option: every option word is a constant here, and
the entry's values (user name, interface, serial port, phone number, PPPoE service) reach
pppd only as the *argument* of a fixed option, after being checked: no value starts with
``-``, none has control characters or spaces where pppd would split, paths are ``/dev/``
names, phone numbers are dial characters. The password never reaches argv: pppd reads it
from an inherited file descriptor (``plugin passwordfd.so passwordfd N``, a memfd).

Neither ``/etc/ppp/peers`` nor a user's file is read; Debian's ``/etc/ppp/options`` is
(pppd always reads it): its ``auth`` is overridden by ``noauth`` (we are the client; the
peer does not have to authenticate itself to us), its ``lock``/``modem``/``crtscts`` are
what a modem wants anyway (``OpenRasSerialLocal=1`` says ``local`` for a line with no
carrier detect).

A PPTP entry (``DEVICE=vpn``, ``VpnStrategy`` 1, 2 or 12) runs pppd over ``pty "pptp
<server> --nolaunchpppd ..."``: the command is the daemon's (the trusted ``pptp``, the
server checked as a host name or IPv4 address, so no entry text reaches ``/bin/sh`` or pptp's
parser as anything but that one name), MS-CHAPv2 only, and MPPE-128 as the entry's
``DataEncryption`` says (Windows' pbk codes: 0 none, 8 if possible, 256 required, 512
maximum; a VPN entry without the key requires it, as Windows' does). pppd 2.4.9 cannot take
MPPE "if possible": without ``require-mppe`` it rejects the MPPE a server offers (measured
against pptpd), so 8 requires it too, which every MPPE server accepts.

An SSTP entry (``DEVICE=vpn``, ``VpnStrategy`` 5 or 6) runs pppd over ``pty "sstpc
--nolaunchpppd ... <server>"`` the same way: the server is a checked host name or IPv4
address with an optional ``:port``, the CA file is the daemon's path (the system store, or
a root-owned copy of the file ``OpenRasSstpCaFile=`` names, read as the caller), MS-CHAPv2
only and no MPPE (TLS is the encryption, as on Windows). pppd loads ``sstp-pppd-plugin.so``
so sstpc learns when PPP is up and sends the SSTP Call Connected (with the crypto binding)
that a server waits for. sstpc checks the server's certificate chain against that CA only,
not that it names the server (measured with sstp-client 1.0.18).
"""

from __future__ import annotations

import ipaddress
import re
import shlex
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from openras.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_BAD_PHONE_NUMBER,
    ERROR_DEVICE_DOES_NOT_EXIST,
    ERROR_DEVICETYPE_DOES_NOT_EXIST,
    ERROR_INVALID_FUNCTION_FOR_ENTRY,
    ERROR_INVALID_PARAMETER,
    RasError,
)
from openras.links import strategy
from openras.links._common import dial_timeout, entry_bool, entry_int
from openras.links.base import EntryView, LinkSpec
from openras.links.ppp import dialing
from openras.links.rtnl import if_index

Kind = Literal["pppoe", "modem", "pptp", "sstp"]
#: MPPE as the entry asks: required (128-bit) or refused.
Mppe = Literal["require", "refuse"]
_MODEM_DEVICES: Final = frozenset({"modem", "isdn", "serial"})
_TYPE_KIND: Final = {"1": "modem", "2": "vpn", "5": "pppoe"}
#: pbk ``DataEncryption`` codes (pbk.h DE_*): 0 none, 8 if possible, 256 require, 512 max.
_DE_NONE: Final = 0
_DE_REQUIRE: Final = 256
_HOST_LABEL: Final = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_IFNAME: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}$")
_SERIAL: Final = re.compile(r"^/dev/[A-Za-z0-9_][A-Za-z0-9_./-]{0,62}$")
_DIAL: Final = re.compile(r"^[0-9*#+,WwPpTt!@$ ()-]{1,64}$")
_SERVICE: Final = re.compile(r"^[A-Za-z0-9_.:@/+-]{1,64}$")
_SPEEDS: Final = frozenset({9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600})
#: pppd reads at most this much of a user name (MAXNAMELEN 256, less the NUL).
_MAX_USER: Final = 255


def check_value(key: str, value: str, *, code: int = ERROR_INVALID_PARAMETER) -> str:
    """A value that reaches pppd as an option's argument: no leading ``-``, no control
    characters (pppd's logs and scripts are line-based)."""
    if value.startswith("-"):
        raise RasError(code, f"{key}={value!r}: a value may not start with '-'")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise RasError(code, f"{key}: control characters are not allowed")
    return value


def entry_kind(entry: EntryView) -> Kind:
    """pppoe or modem, from the Windows keys (``DEVICE=``, else ``Type=``)."""
    typed = getattr(entry, "device_type", "")
    device = ((typed if isinstance(typed, str) else "") or entry.get("DEVICE") or "").strip()
    device = device.lower()
    if not device:
        device = _TYPE_KIND.get((entry.get("Type") or "").strip(), "")
    if device == "pppoe":
        return "pppoe"
    if device in _MODEM_DEVICES or device == "modem":
        return "modem"
    if device == "vpn" and is_pptp(entry):
        return "pptp"
    if device == "vpn" and is_sstp(entry):
        return "sstp"
    if (entry.get("OpenRasPppoeInterface") or "").strip():
        return "pppoe"
    if (entry.get("OpenRasSerialPort") or "").strip():
        return "modem"
    raise RasError(
        ERROR_DEVICETYPE_DOES_NOT_EXIST,
        f"entry {entry.name!r}: DEVICE={device or '(none)'} is not a PPP device "
        "(modem, isdn, serial, PPPoE, or vpn with VpnStrategy 1, 2 or 12: PPTP)",
    )


def is_sstp(entry: EntryView) -> bool:
    """A VPN entry that dials SSTP: VpnStrategy 5 or 6, or no strategy and the SSTP
    miniport as its device (``Device=WAN Miniport (SSTP)``)."""
    first = strategy.first_type(entry.get("VpnStrategy"), entry.get("PreferredDevice"))
    return first == strategy.SSTP


def sstp_server(text: str) -> str:
    """The SSTP server from the entry's PhoneNumber: an IPv4 address, an IPv6 address (bare,
    as Windows takes it, or ``[...]``) or a host name (RFC 1123 labels), optionally ``:port``
    (1-65535), nothing else, so it reaches ``/bin/sh`` and sstpc as one plain word. An IPv6
    server comes out as ``[address]`` or ``[address]:port``, the form sstpc parses."""
    value = text.strip()
    if not value:
        raise RasError(ERROR_BAD_PHONE_NUMBER, "an SSTP entry needs PhoneNumber=<server>")
    if value.startswith("[") or value.count(":") > 1:
        return _sstp_ipv6(value)
    host, sep, port = value.rpartition(":") if ":" in value else (value, "", "")
    if sep and not (port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536):
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value[:80]!r}: not a port after ':'")
    try:
        name = str(ipaddress.IPv4Address(host))
    except ValueError:
        name = host.removesuffix(".")
        labels = name.split(".")
        if (
            len(name) > 253
            or not all(_HOST_LABEL.match(label) for label in labels)
            or all(label.isdigit() for label in labels)
        ):
            raise RasError(
                ERROR_BAD_PHONE_NUMBER,
                f"PhoneNumber={value[:80]!r}: not a host name or IPv4 address (with a :port)",
            ) from None
    return f"{name}:{int(port)}" if sep else name


def _sstp_ipv6(value: str) -> str:
    """``[address]``, ``[address]:port`` or a bare IPv6 address, checked, in sstpc's form."""
    address, port = value, ""
    if value.startswith("["):
        address, close, rest = value[1:].partition("]")
        if not close or (rest and not rest.startswith(":")):
            raise RasError(ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value[:80]!r}: not [IPv6]:port")
        port = rest[1:]
        if rest and not (port.isascii() and port.isdigit() and 0 < int(port[:6]) < 65536):
            raise RasError(
                ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value[:80]!r}: not a port after ']:'"
            )
    try:
        if "%" in address:  # a zone index: no SSTP server is link-local
            raise ValueError(address)
        name = str(ipaddress.IPv6Address(address))
    except ValueError:
        raise RasError(
            ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value[:80]!r}: not an IPv6 address"
        ) from None
    return f"[{name}]:{int(port)}" if port else f"[{name}]"


def is_pptp(entry: EntryView) -> bool:
    """A VPN entry that dials PPTP: VpnStrategy 1, 2 or 12, or no strategy and the PPTP
    miniport as its device (``Device=WAN Miniport (PPTP)``)."""
    first = strategy.first_type(entry.get("VpnStrategy"), entry.get("PreferredDevice"))
    return first == strategy.PPTP


def pptp_server(text: str, kind: str = "PPTP") -> str:
    """A PPTP (or L2TP) server from the entry's PhoneNumber: an IPv4 address or a host name
    (RFC 1123 labels), nothing else, so the name can reach ``/bin/sh`` and the tunnel
    program (its own config file, for xl2tpd) as one plain word."""
    value = text.strip()
    if not value:
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"this {kind} entry needs PhoneNumber=<server>")
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        address = None
    if isinstance(address, ipaddress.IPv6Address):
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value!r}: {kind} runs over IPv4 only")
    if address is not None:
        return str(address)
    name = value.removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise RasError(
            ERROR_BAD_PHONE_NUMBER,
            f"PhoneNumber={value[:80]!r}: not a host name or IPv4 address",
        )
    if all(label.isdigit() for label in labels):  # 10.1 or 010.0.0.1: not an address here
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={value!r}: not an IPv4 address")
    return name


#: pbk.h's AR_F_* bits of ``AuthRestrictions`` (RASEO_RequirePAP... on the API side) and
#: the PPP protocol each allows: PAP 0x8, SPAP 0x10 (Shiva's: pppd has none), MD5-CHAP 0x20,
#: MS-CHAP 0x40 (and Windows 95's 0x400), EAP 0x80, custom (EAP with its data) 0x100,
#: MS-CHAPv2 0x200. Windows writes 512 (MS-CHAPv2 only), 544 (CHAP and MS-CHAPv2), 632
#: ("typical", unsecured password allowed).
_AR_PROTOCOLS: Final = (
    (0x8, "pap"),
    (0x20, "chap"),
    (0x40 | 0x400, "mschap"),
    (0x200, "mschap-v2"),
)
AUTH_PROTOCOLS: Final = ("pap", "chap", "mschap", "mschap-v2")
#: pbk.h's old scalar values (below 8): any, terminal, "encrypted" (typical secure), MS only.
_AR_SCALAR: Final = {
    0: AUTH_PROTOCOLS,
    1: AUTH_PROTOCOLS,
    2: ("chap", "mschap", "mschap-v2"),
    3: ("mschap",),
}
_AUTH_NAMES: Final = {"pap": "PAP", "chap": "CHAP", "mschap": "MS-CHAP", "mschap-v2": "MS-CHAPv2"}
_AR_EAP: Final = 0x80
#: ``CustomAuthKey`` of EAP-MSCHAPv2 (EAP type 26), what Windows' VPN exports name with
#: ``AuthRestrictions=128``.
_EAP_MSCHAPV2: Final = "26"


def entry_auth(entry: EntryView) -> tuple[str, ...]:
    """The PPP authentication protocols the entry allows (``AuthRestrictions``), in pppd's
    names; all four when the entry says nothing. EAP-MSCHAPv2 (the EAP bit with
    ``CustomAuthKey=26``, what Windows' VPN exports carry) allows MS-CHAPv2: the same
    credentials and the same exchange without EAP's framing (pppd has no EAP-MSCHAPv2), so
    nothing weaker. An entry that allows only what openras cannot do over PPP (another EAP
    type, SPAP) is 780, naming them: never a protocol it forbids."""
    raw = (entry.get("AuthRestrictions") or "").strip()
    if not raw:
        return AUTH_PROTOCOLS
    try:
        value = int(raw)
    except ValueError:
        raise RasError(
            ERROR_INVALID_PARAMETER, f"AuthRestrictions={raw[:20]!r}: not a number"
        ) from None
    if value in _AR_SCALAR:
        return _AR_SCALAR[value]
    eap_mschapv2 = value & _AR_EAP and (entry.get("CustomAuthKey") or "").strip() == _EAP_MSCHAPV2
    allowed = tuple(
        name for bit, name in _AR_PROTOCOLS if value & bit or (name == "mschap-v2" and eap_mschapv2)
    )
    if not allowed:
        raise RasError(
            ERROR_INVALID_FUNCTION_FOR_ENTRY,
            f"AuthRestrictions={value} allows only EAP or SPAP, which openras does not do "
            "over PPP: allow MS-CHAPv2 (or CHAP, PAP) in the entry's security settings",
        )
    return allowed


def refuse_options(allowed: tuple[str, ...]) -> list[str]:
    """pppd's ``refuse-*`` options for what the entry does not allow (EAP is always refused)."""
    return [f"refuse-{name}" for name in AUTH_PROTOCOLS if name not in allowed]


def check_vpn_auth(entry: EntryView, kind: str) -> None:
    """A PPTP, L2TP or SSTP link authenticates with MS-CHAPv2 only (MPPE's keys come from
    it, and it is Windows' VPN default): an entry that forbids it is 780, said plainly."""
    allowed = entry_auth(entry)
    if "mschap-v2" not in allowed:
        names = ", ".join(_AUTH_NAMES[a] for a in allowed)
        raise RasError(
            ERROR_INVALID_FUNCTION_FOR_ENTRY,
            f"this {kind} entry allows {names} only (AuthRestrictions); openras's {kind} "
            "links authenticate with MS-CHAPv2: allow it in the entry's security settings",
        )


def entry_mppe(entry: EntryView) -> Mppe:
    """MPPE from ``DataEncryption`` (pbk.h's DE_* codes): 0 (DE_None) refuses it, anything
    else requires it: 256/512 (DE_Require/DE_RequireMax; no key is DE_Require, a VPN entry's
    default on Windows) and 8 (DE_IfPossible, which pppd cannot express: see above)."""
    code = entry_int(entry, "DataEncryption", _DE_REQUIRE)
    return "refuse" if code == _DE_NONE else "require"


def _is_wired(name: str) -> bool:
    """An Ethernet interface that is not wireless, loopback, a bridge or a tunnel."""
    base = Path("/sys/class/net") / name
    try:
        if (base / "type").read_text().strip() != "1":  # ARPHRD_ETHER
            return False
    except OSError:
        return False
    return not any((base / sub).exists() for sub in ("wireless", "phy80211", "bridge", "bonding"))


def default_pppoe_interface() -> str:
    """The only wired interface of this network namespace (Windows' "WAN Miniport
    (PPPOE)" binds to the Ethernet adapter); RasError(608) naming the candidates otherwise."""
    wired = sorted(name for _, name in socket.if_nameindex() if _is_wired(name))
    if len(wired) == 1:
        return wired[0]
    found = ", ".join(wired) if wired else "none"
    raise RasError(
        ERROR_DEVICE_DOES_NOT_EXIST,
        "which Ethernet interface PPPoE should use cannot be chosen: set "
        f"OpenRasPppoeInterface=<interface> in the entry (wired interfaces here: {found})",
    )


def dial_user(spec: LinkSpec) -> str:
    """The dial's user name as pppd gets it (``DOMAIN\\user`` when a domain is given, as
    Windows sends it in MS-CHAP), checked."""
    user = check_value("user name", spec.params.user.strip())
    if len(user.encode()) > _MAX_USER:
        raise RasError(ERROR_INVALID_PARAMETER, f"user name longer than {_MAX_USER} bytes")
    if spec.params.domain.strip():
        domain = check_value("domain", spec.params.domain.strip())
        user = f"{domain}\\{user}"
    return user


def dial_server(spec: LinkSpec, kind: str) -> str:
    """A VPN dial's server (the caller's number or the entry's PhoneNumber), checked; the
    administrator's saved credentials go to the entry's own server only."""
    entry_number = (spec.entry.get("PhoneNumber") or "").strip()
    number = (spec.params.phone_number or entry_number).strip()
    if spec.grant.admin_credentials and number != entry_number:
        # (the daemon refuses this before; the password must never go elsewhere)
        raise RasError(
            ERROR_ACCESS_DENIED,
            "the administrator's saved credentials go only to the entry's own server "
            "(its PhoneNumber), not to another one",
        )
    return pptp_server(number, kind)


@dataclass(frozen=True)
class PppSettings:
    """What a PPP dial does, checked: the only input pppd's argv is built from."""

    kind: Kind
    user: str
    dial_timeout: float
    #: PPPoE: the Ethernet interface and the service name (Windows: the PhoneNumber).
    pppoe_interface: str = ""
    pppoe_service: str = ""
    #: Modem: the serial port, its speed, the number dialed, whether the line has no
    #: modem control (``local``).
    serial_port: str = ""
    speed: int = 115200
    number: str = ""
    #: Dial by pulse (ATDP), as the machine's location says; tone otherwise.
    pulse: bool = False
    local: bool = False
    idle_seconds: int = 0
    #: The PPP authentication protocols the entry allows (``AuthRestrictions``).
    auth: tuple[str, ...] = AUTH_PROTOCOLS
    #: PPTP: the server (an IPv4 address or a checked host name) and MPPE.
    server: str = ""
    mppe: Mppe = "require"
    #: SSTP: the CA file the entry names (``OpenRasSstpCaFile``, "" = the system store) and,
    #: once the driver read it as the caller, its PEM certificates.
    sstp_ca_file: str = ""
    sstp_ca_pem: bytes = field(default=b"", repr=False)

    @classmethod
    def from_spec(cls, spec: LinkSpec) -> PppSettings:
        entry = spec.entry
        kind = entry_kind(entry)
        user = dial_user(spec)
        idle = entry_int(entry, "IdleDisconnectSeconds", 0, maximum=7 * 24 * 3600)
        number = (spec.params.phone_number or entry.get("PhoneNumber") or "").strip()
        common = dict(
            user=user, dial_timeout=dial_timeout(entry), idle_seconds=idle, auth=entry_auth(entry)
        )
        if kind in ("sstp", "pptp"):
            check_vpn_auth(entry, kind.upper())
        if kind == "sstp":
            if spec.grant.admin_credentials and number != (entry.get("PhoneNumber") or "").strip():
                raise RasError(  # (the daemon refuses this before, as for PPTP)
                    ERROR_ACCESS_DENIED,
                    "the administrator's saved credentials go only to the entry's own server "
                    "(its PhoneNumber), not to another one",
                )
            return cls(
                kind="sstp",
                server=sstp_server(number),
                mppe="refuse",
                sstp_ca_file=(entry.get("OpenRasSstpCaFile") or "").strip(),
                **common,  # type: ignore[arg-type]
            )
        if kind == "pptp":
            return cls(
                kind="pptp",
                server=dial_server(spec, "PPTP"),
                mppe=entry_mppe(entry),
                **common,  # type: ignore[arg-type]
            )
        if kind == "pppoe":
            raw = (entry.get("OpenRasPppoeInterface") or "").strip()
            iface = check_value("OpenRasPppoeInterface", raw) if raw else ""
            if iface and not _IFNAME.match(iface):
                raise RasError(
                    ERROR_INVALID_PARAMETER,
                    f"OpenRasPppoeInterface={iface!r}: not an interface name",
                )
            # (asked by rtnetlink: as root, if_nametoindex of an unknown name has the kernel
            # run modprobe netdev-<the entry's text>)
            if not iface:
                iface = default_pppoe_interface()
            elif if_index(iface) is None:
                raise RasError(
                    ERROR_DEVICE_DOES_NOT_EXIST,
                    f"OpenRasPppoeInterface={iface}: no such interface here",
                )
            if number:  # a PPPoE entry's PhoneNumber is the service name (usually empty)
                check_value("PhoneNumber", number)
                if not _SERVICE.match(number):
                    raise RasError(
                        ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={number!r}: not a PPPoE service name"
                    )
            return cls(kind="pppoe", pppoe_interface=iface, pppoe_service=number, **common)  # type: ignore[arg-type]
        port = (entry.get("OpenRasSerialPort") or "").strip()
        if not port:
            raise RasError(
                ERROR_DEVICE_DOES_NOT_EXIST,
                "a modem entry needs OpenRasSerialPort=/dev/ttyUSB0 (or another /dev/tty*): "
                "Windows' modem names mean nothing here",
            )
        if not _SERIAL.match(port) or ".." in port.split("/"):
            raise RasError(
                ERROR_INVALID_PARAMETER, f"OpenRasSerialPort={port!r}: not a /dev/ device path"
            )
        if not number:
            raise RasError(ERROR_BAD_PHONE_NUMBER, "a modem entry needs a PhoneNumber")
        if not _DIAL.match(number):
            raise RasError(
                ERROR_BAD_PHONE_NUMBER,
                f"PhoneNumber={number!r}: only digits, spaces and * # + , W P T ! @ $ ( ) -",
            )
        speed = entry_int(entry, "OpenRasSerialSpeed", 115200, minimum=300, maximum=4000000)
        if speed not in _SPEEDS:
            raise RasError(
                ERROR_INVALID_PARAMETER,
                f"OpenRasSerialSpeed={speed}: use one of {', '.join(map(str, sorted(_SPEEDS)))}",
            )
        dial, pulse = modem_number(spec, number)
        return cls(
            kind="modem",
            serial_port=port,
            speed=speed,
            number=dial,
            pulse=pulse,
            local=entry_bool(entry, "OpenRasSerialLocal"),
            **common,  # type: ignore[arg-type]
        )


def modem_number(spec: LinkSpec, number: str) -> tuple[str, bool]:
    """What the modem dials for ``number`` and whether by pulse: the entry's own number
    through the machine's dialing rules when it has ``UseDialingRules=1`` (Windows'
    RASEO_UseCountryAndAreaCodes, :mod:`openras.links.ppp.dialing`); a number the caller
    gives, or an entry without the rules, as written (tone)."""
    entry = spec.entry
    if spec.params.phone_number or not entry_bool(entry, "UseDialingRules"):
        return dialing.subscriber(number), False
    location = dialing.current_location()
    dialed = dialing.translate(
        number,
        country_code=(entry.get("CountryCode") or "").strip(),
        area_code=(entry.get("AreaCode") or "").strip(),
        location=location,
    )
    return dialed, location.pulse


def chat_script(settings: PppSettings) -> str:
    """The chat script the daemon writes for a modem dial: abort on the modem's refusals,
    reset, dial, wait for CONNECT (the dial deadline bounds the wait)."""
    aborts = ("BUSY", "NO CARRIER", "NO DIALTONE", "NO DIAL TONE", "NO ANSWER", "ERROR")
    lines = [f"ABORT '{a}'" for a in aborts]
    lines += [
        "TIMEOUT 5",
        "'' ATZ",
        f"OK ATD{'P' if settings.pulse else 'T'}{settings.number}",
        f"TIMEOUT {max(5, int(settings.dial_timeout))}",
        "CONNECT ''",
    ]
    return "\n".join(lines) + "\n"


def build_argv(
    settings: PppSettings,
    *,
    pppd: str,
    ifname: str,
    linkname: str,
    logfile: Path,
    password_fd: int | None,
    chat: str = "/usr/sbin/chat",
    chat_file: Path | None = None,
    no_script: str = "/bin/true",
    pptp: str = "/usr/sbin/pptp",
    sstpc: str = "/usr/sbin/sstpc",
    sstp_ca: str = "/etc/ssl/certs/ca-certificates.crt",
) -> list[str]:
    """pppd's whole command line: constants plus checked values, nothing else."""
    argv = [
        pppd,
        "nodetach",
        "noauth",  # we are the client: the peer need not authenticate itself to us
        "refuse-eap",  # Windows' PPP default is PAP/CHAP/MS-CHAPv2 (and pppoe-server picks EAP)
        "hide-password",
        "debug",  # the interpreter reads the negotiation from the log
        "logfile", str(logfile),
        "linkname", linkname,
        "ifname", ifname,
        "maxfail", "1",
        "holdoff", "0",
        "noipdefault",
        "usepeerdns",
        "nodefaultroute",
        "noreplacedefaultroute",
        "noproxyarp",
        # pppd would run the system's /etc/ppp/ip-up (DNS, routes): the daemon does that.
        # (pppd 2.4.9 has no option for /etc/ppp/ip-pre-up: the administrator's, it runs.)
        "ip-up-script", no_script,
        "ip-down-script", no_script,
        "noipv6",  # IPv4 only (so the system's ipv6-up scripts do not run either)
    ]  # fmt: skip
    if settings.idle_seconds:
        argv += ["idle", str(settings.idle_seconds)]
    if settings.user:
        argv += ["user", settings.user]
    if password_fd is not None:
        argv += ["plugin", "passwordfd.so", "passwordfd", str(password_fd)]
    if settings.kind in ("pppoe", "modem"):
        argv += refuse_options(settings.auth)  # only what the entry allows
    if settings.kind == "pppoe":
        argv += ["plugin", "rp-pppoe.so"]
        if settings.pppoe_service:
            argv += ["rp_pppoe_service", settings.pppoe_service]
        argv += ["mtu", "1492", "mru", "1492", "noaccomp", "nopcomp", "default-asyncmap"]
        argv += ["lcp-echo-interval", "10", "lcp-echo-failure", "3"]
        argv += [f"nic-{settings.pppoe_interface}"]
    elif settings.kind == "pptp":
        argv += pptp_options(settings, pptp=pptp, linkname=linkname)
    elif settings.kind == "sstp":
        argv += sstp_options(settings, sstpc=sstpc, linkname=linkname, ca_file=sstp_ca)
    else:
        assert chat_file is not None
        # pppd runs ``connect`` with /bin/sh -c: both paths are the daemon's own (quoted).
        argv += ["connect", f"{shlex.quote(chat)} -v -s -f {shlex.quote(str(chat_file))}"]
        argv += ["lock", "local" if settings.local else "modem"]
        argv += ["lcp-echo-interval", "10", "lcp-echo-failure", "3"]
        argv += [settings.serial_port, str(settings.speed)]
    return argv


def pptp_options(settings: PppSettings, *, pptp: str, linkname: str) -> list[str]:
    """pppd's options for a PPTP dial: pptp as the ``pty`` (no host route of its own: it
    would add one and never delete it; its syslog name is the link's), MS-CHAPv2 only (what
    MPPE's keys come from, and Windows' PPTP default), MPPE-128 as the entry asks."""
    # --phone names pptp's call manager socket (/var/run/pptp/<address>:<phone>): one call
    # manager per link, not one shared by every pptp dialing the same server
    command = [
        pptp, settings.server, "--nolaunchpppd", "--nohostroute", "--logstring", linkname,
        "--phone", linkname,
    ]  # fmt: skip
    argv = ["pty", " ".join(shlex.quote(word) for word in command)]
    argv += ["refuse-pap", "refuse-chap", "refuse-mschap"]  # and refuse-eap: MS-CHAPv2 left
    argv += ["nobsdcomp", "nodeflate", "novj", "mtu", "1400", "mru", "1400"]
    argv += ["lcp-echo-interval", "10", "lcp-echo-failure", "3"]
    if settings.mppe == "require":
        argv += ["require-mppe-128"]  # 128-bit only, as Windows since Vista (no 40/56-bit)
    else:
        argv += ["nomppe", "noccp"]
    return argv


#: sstpc's run-time directory: its socket for the pppd plugin is ``sstpc-<ipparam>`` there.
SSTPC_RUN_DIR: Final = "/var/run/sstpc"


def sstp_socket(linkname: str) -> str:
    """The socket sstpc listens on for ``sstp-pppd-plugin.so`` (named by ``--ipparam``)."""
    return f"{SSTPC_RUN_DIR}/sstpc-{linkname}"


def sstp_options(settings: PppSettings, *, sstpc: str, linkname: str, ca_file: str) -> list[str]:
    """pppd's options for an SSTP dial: sstpc as the ``pty`` (the server's certificate
    checked against ``ca_file``; its log on stderr, which pppd writes to its log file), the
    plugin that tells sstpc PPP is up (then it sends Call Connected), MS-CHAPv2 only, no
    MPPE (the TLS layer encrypts)."""
    command = [
        sstpc, "--nolaunchpppd", "--ipparam", linkname, "--ca-cert", ca_file,
        "--log-stderr", "--log-level", "2", "--log-ident", "sstpc", settings.server,
    ]  # fmt: skip
    argv = ["pty", " ".join(shlex.quote(word) for word in command)]
    argv += ["plugin", "sstp-pppd-plugin.so", "sstp-sock", sstp_socket(linkname)]
    argv += ["refuse-pap", "refuse-chap", "refuse-mschap"]  # and refuse-eap: MS-CHAPv2 left
    argv += ["nomppe", "noccp", "nobsdcomp", "nodeflate", "novj", "mtu", "1400", "mru", "1400"]
    argv += ["lcp-echo-interval", "10", "lcp-echo-failure", "3"]
    return argv
