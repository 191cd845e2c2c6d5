"""Client .ovpn profiles: parsed the way openvpn parses them, then rebuilt from an allow-list.

The daemon runs openvpn as root from a profile a user wrote, so the profile must never make
root run a program, load code, write files or read a file the user could not read. Rather
than filtering known-bad options, the rebuilt config holds only options on an allow-list,
re-quoted by us, with every file the profile names read on the user's behalf (through a
callback that checks the user's permissions) and inlined. Anything else is refused with the
line that asked for it. The tokenizer follows openvpn's ``parse_line`` (quotes, backslash
escapes, ``#``/``;`` comments only at the start of a token) and its inline-block rules (a
block ends at the first line that starts with ``</tag>``), so what we check is what it reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace

from openras import errors
from openras.errors import RasError

#: openvpn reads config lines (and inline lines) 256 bytes at a time; longer is refused.
MAX_LINE = 255
MAX_PARAMS = 16
MAX_PROFILE_BYTES = 1024 * 1024

ERROR_PROFILE = 872  # ERROR_INVALID_INTERFACE_CONFIG: "the configuration ... is not valid"
ERROR_NOT_ALLOWED = errors.ERROR_ACCESS_DENIED
ERROR_NO_CERT = 781  # ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND


@dataclass(frozen=True)
class Option:
    """One option as written: name (no leading ``--``), arguments, line, inline content."""

    name: str
    args: tuple[str, ...] = ()
    line: int = 0
    inline: str | None = None
    #: Options inside a ``<connection>`` block.
    block: tuple[Option, ...] = ()


# ------------------------------------------------------------------------------- tokenizer


#: C ``isspace`` in the C locale, plus the string's end (openvpn's ``space()``).
_C_SPACE = frozenset(" \t\n\r\v\f\0")


def tokenize(line: str) -> list[str] | None:
    """Split one config line like openvpn's ``parse_line``; None on a quoting error."""
    out: list[str] = []
    cur: list[str] = []
    state = "initial"  # initial | unquoted | dquoted | squoted
    backslash = False
    for ch in line + "\0":
        if not backslash and ch == "\\" and state != "squoted":
            backslash = True
            continue
        emit: str | None = None
        done = False
        space = ch in _C_SPACE
        if state == "initial":
            if not space:
                if ch in "#;":
                    break
                if not backslash and ch == '"':
                    state = "dquoted"
                elif not backslash and ch == "'":
                    state = "squoted"
                else:
                    emit, state = ch, "unquoted"
        elif state == "unquoted":
            if not backslash and space:
                done = True
            else:
                emit = ch
        elif state == "dquoted":
            if not backslash and ch == '"':
                done = True
            else:
                emit = ch
        elif ch == "'":
            done = True
        else:
            emit = ch
        if backslash and emit is not None and not (emit in '\\"' or emit in _C_SPACE):
            return None  # openvpn: "Bad backslash ('\') usage"
        backslash = False
        if emit == "\0":
            emit = None
        if emit is not None:
            cur.append(emit)
        if done:
            out.append("".join(cur))
            cur = []
            state = "initial"
        if len(out) >= MAX_PARAMS:
            break
    if state != "initial":
        return None  # an open quote, or an escaped end of line ("Residual parse state")
    return out


def parse(text: str, source: str = "profile", *, first_line: int = 1) -> list[Option]:
    """Options of a profile (syntax only; nothing is allowed or refused yet)."""
    if "\0" in text:
        raise RasError(ERROR_PROFILE, f"{source}: not an OpenVPN profile (binary data)")
    # openvpn reads with fgets: only "\n" ends a line ("\r" is then just a space).
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    options: list[Option] = []
    i = 0
    while i < len(lines):
        lineno = first_line + i
        raw = lines[i]
        i += 1
        if len(raw) > MAX_LINE:
            raise RasError(
                ERROR_PROFILE, f"{source}:{lineno}: line longer than {MAX_LINE} characters"
            )
        tokens = tokenize(raw)
        if tokens is None:
            raise RasError(ERROR_PROFILE, f"{source}:{lineno}: bad quoting or backslash")
        if not tokens:
            continue
        name = tokens[0].removeprefix("--")
        if len(tokens) == 1 and name.startswith("<") and name.endswith(">") and len(name) > 2:
            tag = name[1:-1]
            if tag.startswith("/"):
                raise RasError(ERROR_PROFILE, f"{source}:{lineno}: {name} without <{tag[1:]}>")
            close = f"</{tag}>"
            body: list[str] = []
            while i < len(lines) and not lines[i].lstrip().startswith(close):
                if len(lines[i]) > MAX_LINE:
                    raise RasError(
                        ERROR_PROFILE,
                        f"{source}:{first_line + i}: line longer than {MAX_LINE} characters",
                    )
                body.append(lines[i].removesuffix("\r"))  # CRLF profiles from Windows
                i += 1
            if i >= len(lines):
                raise RasError(ERROR_PROFILE, f"{source}:{lineno}: <{tag}> is never closed")
            i += 1
            content = "\n".join(body) + "\n"
            if tag == "connection":
                inner = parse(content, source, first_line=lineno + 1)
                options.append(Option(tag, (), lineno, None, tuple(inner)))
            else:
                options.append(Option(tag, (), lineno, content))
            continue
        options.append(Option(name, tuple(tokens[1:]), lineno))
    return options


# ------------------------------------------------------------------------------- policy

_ANY = (0, MAX_PARAMS)


@dataclass(frozen=True)
class Rule:
    nargs: tuple[int, int] = (0, 0)
    #: Index of an argument naming a file to read on the user's behalf and inline.
    file_arg: int | None = None
    #: The option may come as an inline block (``<ca>...</ca>``).
    inline: bool = False
    #: Allowed values of the first argument (lower-case), when restricted.
    choices: frozenset[str] | None = None
    #: Also allowed inside ``<connection>``.
    in_connection: bool = False


def _r(
    lo: int,
    hi: int | None = None,
    *,
    file: bool = False,
    inline: bool = False,
    choices: frozenset[str] | None = None,
    in_connection: bool = False,
) -> Rule:
    return Rule(
        (lo, lo if hi is None else hi),
        file_arg=0 if file else None,
        inline=inline or file,
        choices=choices,
        in_connection=in_connection,
    )


ALLOWED: Mapping[str, Rule] = {
    # role and tunnel device (the device name itself is chosen by the driver)
    "client": _r(0),
    "tls-client": _r(0),
    "pull": _r(0),
    "dev": _r(1),
    "dev-type": _r(1, choices=frozenset({"tun"})),
    "topology": _r(1, choices=frozenset({"subnet", "net30", "p2p"})),
    # where and how to connect
    "remote": _r(1, 3, in_connection=True),
    "remote-random": _r(0),
    "remote-random-hostname": _r(0),
    "proto": _r(
        1,
        in_connection=True,
        choices=frozenset(
            {
                "udp",
                "udp4",
                "udp6",
                "tcp",
                "tcp4",
                "tcp6",
                "tcp-client",
                "tcp4-client",
                "tcp6-client",
            }
        ),
    ),
    "port": _r(1, in_connection=True),
    "rport": _r(1, in_connection=True),
    "lport": _r(1, in_connection=True),
    "local": _r(1, in_connection=True),
    "bind": _r(0, 1, in_connection=True),
    "nobind": _r(0, in_connection=True),
    "float": _r(0, in_connection=True),
    "resolv-retry": _r(1),
    "connect-retry": _r(1, 2, in_connection=True),
    "connect-retry-max": _r(1),
    "connect-timeout": _r(1, in_connection=True),
    "server-poll-timeout": _r(1, in_connection=True),
    "explicit-exit-notify": _r(0, 1, in_connection=True),
    "http-proxy": _r(2, in_connection=True),
    "http-proxy-option": _r(1, 2, in_connection=True),
    "socks-proxy": _r(1, 2, in_connection=True),
    # TLS and keys (files are inlined)
    "ca": _r(1, file=True),
    "cert": _r(1, file=True),
    "key": _r(1, file=True),
    "extra-certs": _r(1, file=True),
    "pkcs12": _r(1, file=True),
    "dh": _r(1, file=True),
    "tls-auth": _r(1, 2, file=True),
    "tls-crypt": _r(1, file=True),
    "tls-crypt-v2": _r(1, 2, file=True),
    "secret": _r(1, 2, file=True),
    "crl-verify": _r(1, 2, file=True),
    "peer-fingerprint": _r(1, inline=True),
    "key-direction": _r(1, choices=frozenset({"0", "1"})),
    "remote-cert-tls": _r(1, choices=frozenset({"server", "client"})),
    "remote-cert-eku": _r(1),
    "remote-cert-ku": _r(0, MAX_PARAMS - 1),
    "verify-x509-name": _r(1, 2),
    "tls-version-min": _r(1, 2),
    "tls-version-max": _r(1),
    "tls-cipher": _r(1),
    "tls-ciphersuites": _r(1),
    "tls-groups": _r(1),
    "tls-cert-profile": _r(1),
    "ecdh-curve": _r(1),
    "cipher": _r(1),
    "data-ciphers": _r(1),
    "ncp-ciphers": _r(1),
    "data-ciphers-fallback": _r(1),
    "auth": _r(1),
    "tls-timeout": _r(1),
    "hand-window": _r(1),
    "tran-window": _r(1),
    "reneg-sec": _r(1, 2),
    "reneg-bytes": _r(1),
    "reneg-pkts": _r(1),
    "replay-window": _r(1, 2),
    "mute-replay-warnings": _r(0),
    "tls-exit": _r(0),
    "single-session": _r(0),
    "push-peer-info": _r(0),
    # user/password: asked over the management socket, never from a file
    "auth-user-pass": _r(0),
    "auth-nocache": _r(0),
    "auth-retry": _r(1, choices=frozenset({"none"})),
    "script-security": _r(1, choices=frozenset({"0", "1"})),
    # link tuning
    "comp-lzo": _r(0, 1),
    "compress": _r(0, 1),
    "allow-compression": _r(1),
    "ping": _r(1),
    "ping-restart": _r(1),
    "ping-exit": _r(1),
    "keepalive": _r(2),
    "inactive": _r(1, 2),
    "tun-mtu": _r(1, 2, in_connection=True),
    "tun-mtu-extra": _r(1, in_connection=True),
    "link-mtu": _r(1, in_connection=True),
    "mssfix": _r(0, 2, in_connection=True),
    "fragment": _r(1, 2, in_connection=True),
    "mtu-disc": _r(1),
    "mtu-test": _r(0),
    "sndbuf": _r(1),
    "rcvbuf": _r(1),
    "txqueuelen": _r(1),
    "fast-io": _r(0),
    "mlock": _r(0),
    "passtos": _r(0),
    "persist-key": _r(0),
    "persist-tun": _r(0),
    "persist-remote-ip": _r(0),
    "persist-local-ip": _r(0),
    # addressing and routes (installed by openvpn itself over netlink, no program runs)
    "ifconfig": _r(2),
    "ifconfig-ipv6": _r(2),
    "ifconfig-nowarn": _r(0),
    "tun-ipv6": _r(0),
    "route": _r(1, 4),
    "route-ipv6": _r(1, 3),
    "route-metric": _r(1),
    "route-delay": _r(0, 2),
    "route-gateway": _r(1),
    "route-nopull": _r(0),
    "redirect-gateway": _r(0, 6),
    "redirect-private": _r(0, 6),
    "block-ipv6": _r(0),
    "dhcp-option": _r(1, 2),
    "dns": _r(2, 7),
    "pull-filter": _r(2),
    "allow-pull-fqdn": _r(0),
    # logging detail (the log file itself is the driver's)
    "verb": _r(1),
    "mute": _r(1),
    "suppress-timestamps": _r(0),
    "machine-readable-output": _r(0),
    "errors-to-stderr": _r(0),
    "opt-verify": _r(0),
    "setenv-safe": _r(2),
}

#: Options whose other values exist but are refused on purpose (scripts, interaction, tap).
_POLICY_CHOICES: frozenset[str] = frozenset({"script-security", "auth-retry", "dev-type"})

#: Harmless for us and dropped: Windows-only switches, and privileges/logging the driver owns.
IGNORED: frozenset[str] = frozenset(
    {
        "block-outside-dns",
        "register-dns",
        "ip-win32",
        "route-method",
        "dhcp-renew",
        "dhcp-release",
        "dhcp-pre-release",
        "tap-sleep",
        "win-sys",
        "show-net-up",
        "allow-nonadmin",
        "windows-driver",
        "service",
        "msg-channel",
        "user",
        "group",
        "ignore-unknown-option",
        "echo",
    }
)

#: Never allowed, whatever ``ignore-unknown-option`` says: they run programs, load code, write
#: or read files outside our control, or take over what the driver owns.
DANGEROUS: frozenset[str] = frozenset(
    {
        "up",
        "down",
        "down-pre",
        "up-restart",
        "up-delay",
        "route-up",
        "route-pre-down",
        "ipchange",
        "tls-verify",
        "client-connect",
        "client-disconnect",
        "learn-address",
        "auth-user-pass-verify",
        "plugin",
        "config",
        "cd",
        "chroot",
        "daemon",
        "log",
        "log-append",
        "syslog",
        "writepid",
        "status",
        "status-version",
        "iproute",
        "dev-node",
        "tls-export-cert",
        "pkcs11-providers",
        "pkcs11-id",
        "pkcs11-id-management",
        "providers",
        "engine",
        "askpass",
        "tmp-dir",
        "management",
        "management-hold",
        "management-query-passwords",
        "management-client",
        "management-client-auth",
        "management-client-user",
        "management-client-group",
        "management-external-key",
        "management-external-cert",
        "management-signal",
        "management-forget-disconnect",
        "management-up-down",
        "management-log-cache",
        "static-challenge",
        "http-proxy-user-pass",
        "dns-updown",
        "setenv",
        "mode",
        "server",
        "tls-server",
        "ifconfig-pool-persist",
        "client-config-dir",
        "inetd",
        "lladdr",
    }
)


@dataclass
class SanitizedProfile:
    """The rebuilt profile: options to write, facts the driver needs."""

    options: list[Option] = field(default_factory=list)
    has_auth_user_pass: bool = False
    remotes: list[tuple[str, ...]] = field(default_factory=list)
    verb: int = 3

    def render(self, extra: Iterable[Option] = ()) -> str:
        """The config text for openvpn (every argument quoted by us)."""
        return "".join(_render(o) for o in [*self.options, *extra])


def _q(arg: str) -> str:
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _render(o: Option) -> str:
    if o.block:
        return f"<{o.name}>\n" + "".join(_render(i) for i in o.block) + f"</{o.name}>\n"
    if o.inline is not None:
        return f"<{o.name}>\n{o.inline}</{o.name}>\n"
    line = " ".join([o.name, *(_q(a) for a in o.args)]) + "\n"
    if len(line) > MAX_LINE + 1:
        raise RasError(ERROR_PROFILE, f"line {o.line}: option '{o.name}' is too long")
    return line


_TAGLIKE = re.compile(r"^\s*<")
_SAFE_ARG = re.compile(r"[^\x00-\x1f\x7f]*\Z")

FileReader = Callable[[str, int], str]
"""``read(path_as_written, line) -> text``: resolves, checks the user's rights, reads."""


def sanitize(
    options: Iterable[Option],
    *,
    source: str,
    read_file: FileReader,
    remote_override: tuple[str, ...] | None = None,
) -> SanitizedProfile:
    """Rebuild ``options`` from the allow-list; RasError naming the first refused line."""
    opts = list(options)
    ignorable = {a for o in opts if o.name == "ignore-unknown-option" for a in o.args}
    if not any(
        o.name in ("client", "tls-client", "remote", "connection", "proto", "dev", "ca")
        for o in opts
    ):
        raise RasError(ERROR_PROFILE, f"{source}: not an OpenVPN client profile")
    out = SanitizedProfile()
    for o in opts:
        for kept in _check(
            o, source=source, read_file=read_file, ignorable=ignorable, nested=False
        ):
            _keep(out, kept, source)
    if remote_override is not None:
        out.options = _override_remotes(out.options, remote_override)
    out.remotes = [o.args for o in _walk(out.options) if o.name == "remote"]
    if not out.remotes:
        raise RasError(
            errors.ERROR_BAD_PHONE_NUMBER,
            f"{source}: no server: the profile has no 'remote' and the entry no PhoneNumber",
        )
    return out


def _keep(out: SanitizedProfile, kept: Option, source: str) -> None:
    """Record what the driver needs to know; drop what the driver sets itself."""
    if kept.name == "auth-user-pass":
        out.has_auth_user_pass = True
    if kept.name == "verb":
        out.verb = _verb(kept, source)
        return
    if kept.name == "dev":
        if not kept.args[0].startswith("tun"):
            raise RasError(
                ERROR_NOT_ALLOWED,
                f"{source}:{kept.line}: only 'dev tun' is supported, not '{kept.args[0]}'",
            )
        return
    if kept.name == "dev-type":
        return  # the driver names the device and its type
    out.options.append(kept)


def _verb(o: Option, source: str) -> int:
    try:
        return max(0, min(11, int(o.args[0])))
    except ValueError:
        raise RasError(ERROR_PROFILE, f"{source}:{o.line}: verb needs a number") from None


def _walk(options: Iterable[Option]) -> Iterable[Option]:
    for o in options:
        yield o
        yield from o.block


def _override_remotes(options: list[Option], host_port: tuple[str, ...]) -> list[Option]:
    """Replace the host (and port, when given) of every ``remote``; add one if none."""

    def fix(o: Option) -> Option:
        if o.name != "remote":
            return o
        args = list(o.args)
        args[0] = host_port[0]
        if len(host_port) > 1:
            args[1:2] = [host_port[1]]
        return replace(o, args=tuple(args))

    changed = [replace(fix(o), block=tuple(fix(i) for i in o.block)) for o in options]
    if not any(o.name == "remote" for o in _walk(changed)):
        changed.append(Option("remote", host_port, 0))
    return changed


def parse_phone_number(number: str) -> tuple[str, ...] | None:
    """``host``, ``host port`` or ``host:port`` (not IPv6 literals with colons) -> args."""
    number = number.strip()
    if not number:
        return None
    parts = number.split()
    if len(parts) == 1 and parts[0].count(":") == 1:
        parts = parts[0].split(":")
    if len(parts) > 2 or not all(_SAFE_ARG.match(p) for p in parts) or parts[0].startswith("-"):
        raise RasError(errors.ERROR_BAD_PHONE_NUMBER, f"PhoneNumber {number!r} is not host [port]")
    if len(parts) == 2 and not parts[1].isdigit():
        raise RasError(errors.ERROR_BAD_PHONE_NUMBER, f"PhoneNumber {number!r}: bad port")
    return tuple(parts)


def _check(
    o: Option, *, source: str, read_file: FileReader, ignorable: set[str], nested: bool
) -> list[Option]:
    """``o`` as it may be written (maybe inlined, maybe as two options), or [] if dropped."""
    where = f"{source}:{o.line}"
    if o.name == "connection":
        if nested:
            raise RasError(ERROR_PROFILE, f"{where}: <connection> inside <connection>")
        inner = [
            k
            for i in o.block
            for k in _check(i, source=source, read_file=read_file, ignorable=ignorable, nested=True)
        ]
        return [replace(o, block=tuple(inner))]
    if o.name in IGNORED:
        return []
    rule = ALLOWED.get(o.name)
    if rule is None or o.name in DANGEROUS or (nested and not rule.in_connection):
        if o.name in ignorable and o.name not in DANGEROUS and rule is None:
            return []  # the profile itself says openvpn may ignore it
        raise RasError(ERROR_NOT_ALLOWED, f"{where}: option '{o.name}' is not allowed")
    for arg in o.args:
        if not _SAFE_ARG.match(arg):
            raise RasError(ERROR_PROFILE, f"{where}: control character in '{o.name}'")
    if o.inline is not None:
        if not rule.inline:
            raise RasError(ERROR_NOT_ALLOWED, f"{where}: option '{o.name}' is not allowed inline")
        _check_inline(o.inline, where, o.name)
        return [o]
    if o.name == "auth-user-pass" and o.args:
        raise RasError(
            ERROR_NOT_ALLOWED,
            f"{where}: option 'auth-user-pass FILE' is not allowed (the dial supplies credentials)",
        )
    lo, hi = rule.nargs
    if not lo <= len(o.args) <= hi:
        raise RasError(ERROR_PROFILE, f"{where}: option '{o.name}' takes {lo}..{hi} arguments")
    if rule.choices is not None and o.args and o.args[0].lower() not in rule.choices:
        if o.name in _POLICY_CHOICES:
            raise RasError(
                ERROR_NOT_ALLOWED, f"{where}: option '{o.name} {o.args[0]}' is not allowed"
            )
        raise RasError(
            ERROR_PROFILE,
            f"{where}: '{o.name} {o.args[0]}': expected one of {', '.join(sorted(rule.choices))}",
        )
    if o.name == "crl-verify" and len(o.args) > 1:
        raise RasError(ERROR_NOT_ALLOWED, f"{where}: 'crl-verify ... dir' is not allowed")
    if rule.file_arg is None or not o.args:
        return [o]
    path = o.args[rule.file_arg]
    if path == "[inline]":
        raise RasError(ERROR_PROFILE, f"{where}: '{o.name} [inline]' without an inline block")
    content = read_file(path, o.line)
    _check_inline(content, where, o.name)
    if not content.endswith("\n"):
        content += "\n"
    inlined = Option(o.name, (), o.line, content)
    rest = o.args[rule.file_arg + 1 :]
    if not rest:
        return [inlined]
    if o.name in ("tls-auth", "secret") and rest[0] in ("0", "1"):
        # tls-auth FILE DIR: inline blocks take no argument; the direction goes separately.
        return [inlined, Option("key-direction", (rest[0],), o.line)]
    raise RasError(ERROR_NOT_ALLOWED, f"{where}: '{o.name} FILE {rest[0]}' is not allowed")


def _check_inline(content: str, where: str, name: str) -> None:
    """Refuse content that could end the inline block early (and inject options)."""
    for n, line in enumerate(content.split("\n")):
        if _TAGLIKE.match(line):
            raise RasError(
                ERROR_PROFILE, f"{where}: '{name}' content line {n + 1} looks like a tag"
            )
        if len(line) > MAX_LINE:
            raise RasError(ERROR_PROFILE, f"{where}: '{name}' content line {n + 1} is too long")
        if not _SAFE_ARG.match(line.replace("\t", " ")):
            raise RasError(ERROR_PROFILE, f"{where}: '{name}' content has control characters")
