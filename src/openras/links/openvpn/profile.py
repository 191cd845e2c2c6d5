"""Client .ovpn profiles: parsed the way openvpn parses them, checked, turned into argv.

The daemon runs openvpn as root from a profile a user wrote, so the profile must never make
root run a program, load code, write files or read a file the user could not read. No text of
the user's ever reaches openvpn's own config parser: the profile is parsed here into a typed
model (:class:`Option`), every option is checked against an allow-list (anything else is
refused with the line that asked for it), and openvpn is started with an **argv** built from
that model (:meth:`SanitizedProfile.argv`), never with ``--config``. Whatever openras
understood is exactly what openvpn gets: argv has no quoting, no comments, no inline blocks
and no line length, so there is nothing left to desynchronise.

- Inline blocks (``<ca>``...) and files the profile names (read on the owner's behalf through
  a callback, with the owner's rights) become 0600 files the daemon writes in the link's run
  directory, passed as ``--ca /run/.../ca.pem``.
- openvpn's argv parser (``parse_argv`` in options.c) starts a new option at every element
  that begins with ``--``; an argument that does is refused (error 5) naming its line, so a
  value can never become an option. A single ``-`` is just an argument for openvpn.
- ``<connection>`` blocks have no argv form. They are flattened: each block becomes one
  ``--remote host port proto`` (openvpn tries several ``--remote`` in order, each with its
  own port and protocol), and the blocks' other options must be the same in every block
  (they are then applied once, after the top-level ones, as a block's own options override
  the defaults); blocks that differ otherwise are refused naming the block's line.
- Privileged ports never: unless the profile binds a local address or port (``lport``,
  ``local``, ``bind``), ``--nobind`` is passed (openvpn's advice for clients; no two links
  fight over port 1194). For a non-root owner a bound local port must be a number >= 1024
  (``lport``, or ``port`` when binding), else error 5 naming the line.
- Full tunnel per policy: when the grant forbids it, ``redirect-gateway``/``redirect-private``
  and routes that together cover more than a /4 of IPv4 (or a /7 of IPv6) are refused
  (error 5 quoting the policy line): that catches ``0.0.0.0 0.0.0.0``, the ``0/1`` +
  ``128/1`` halves, ``::/0``, ``2000::/3`` and any pile of smaller routes adding up.
  What the server pushes is cut with ``--route-nopull`` (pushed routes, redirect-gateway and
  DHCP/DNS options are not applied; openvpn applies no DNS on Linux anyway, and the pushed
  options are still logged, where the driver reads the DNS for the projection) and
  ``--pull-filter ignore redirect-gateway|redirect-private``; the profile's own, checked,
  routes still apply. A pushed ``ifconfig`` whose netmask is wider than that is checked by
  the driver once the server's reply is known (:func:`pushed_coverage_problem`).

The tokenizer follows openvpn's ``parse_line`` (quotes, backslash escapes, ``#``/``;``
comments only at the start of a token) and its inline-block rules (a block ends at the first
line whose first non-space bytes are ``</tag>``); a line longer than openvpn's 255-byte read
(counted in UTF-8 bytes, as openvpn counts) is refused rather than guessed at.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from openras import errors
from openras.errors import RasError
from openras.policy import Grant

#: openvpn reads config lines (and inline lines) 256 bytes at a time (``fgets`` into
#: ``OPTION_LINE_SIZE``): a longer line is split in two for openvpn, so it is refused here.
MAX_LINE = 255
MAX_PARAMS = 16
MAX_PROFILE_BYTES = 1024 * 1024

#: What a profile is refused with: unusable ("the configuration ... is not valid"), asking
#: for what the daemon does not allow, naming a certificate or key file that cannot be read.
ERROR_PROFILE = errors.ERROR_INVALID_INTERFACE_CONFIG
ERROR_NOT_ALLOWED = errors.ERROR_ACCESS_DENIED
ERROR_NO_CERT = errors.ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND


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
_C_SPACE_STR = " \t\n\r\v\f"


#: What the plain split of :func:`tokenize` turns into spaces (C ``isspace`` but NUL).
_TO_SPACE = str.maketrans("\t\n\r\v\f", "     ")


def tokenize(line: str) -> list[str] | None:
    """Split one config line like openvpn's ``parse_line``; None on a quoting error.

    A line with no quote, backslash or NUL (nearly every line of a profile) is split on
    C spaces, up to a comment: what the state machine below gives it, at a tenth of the
    cost (a profile's lines took 50-80 us of a dial, before its program starts)."""
    if not ('"' in line or "'" in line or "\\" in line or "\0" in line):
        out: list[str] = []
        for token in line.translate(_TO_SPACE).split(" "):
            if token:
                if token[0] in "#;":
                    break
                out.append(token)
                if len(out) >= MAX_PARAMS:
                    break
        return out
    return _tokenize_quoted(line)


def _tokenize_quoted(line: str) -> list[str] | None:
    """:func:`tokenize` of any line: openvpn's state machine, a character at a time."""
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


def _nbytes(line: str) -> int:
    """The length openvpn sees: UTF-8 bytes, not characters."""
    return len(line.encode("utf-8", "surrogatepass"))


def parse(text: str, source: str = "profile", *, first_line: int = 1) -> list[Option]:
    """Options of a profile (syntax only; nothing is allowed or refused yet)."""
    if "\0" in text:
        raise RasError(ERROR_PROFILE, f"{source}: not an OpenVPN profile (binary data)")
    # openvpn reads with fgets: only "\n" ends a line ("\r" is then just a space).
    lines = text.removeprefix("\ufeff").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for n, raw in enumerate(lines):
        if _nbytes(raw) > MAX_LINE:
            raise RasError(
                ERROR_PROFILE,
                f"{source}:{first_line + n}: line longer than {MAX_LINE} bytes "
                "(openvpn would read it as two lines)",
            )
    options: list[Option] = []
    i = 0
    while i < len(lines):
        lineno = first_line + i
        raw = lines[i]
        i += 1
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
            # openvpn skips C white space only (not, say, U+00A0) before the closing tag.
            while i < len(lines) and not lines[i].lstrip(_C_SPACE_STR).startswith(close):
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
    "auth-user-pass": _r(0, 1, inline=True),
    "auth-nocache": _r(0),
    "auth-retry": _r(1, choices=frozenset({"none"})),
    # the server's one-time code, asked of the user when openvpn needs it (RASCS_Interactive)
    "static-challenge": _r(2, 3),
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


#: Options whose argument is a file openvpn reads: the content goes to a 0600 file of ours.
_FILE_SUFFIX: Mapping[str, str] = {"pkcs12": ".p12", "tls-auth": ".key", "tls-crypt": ".key",
                                   "tls-crypt-v2": ".key", "secret": ".key"}  # fmt: skip

#: Options the driver sets itself (or that its argv carries); never taken from a profile.
DRIVER_OPTIONS: frozenset[str] = frozenset(
    {
        "cd", "dev", "dev-type", "auth-retry", "verb", "auth-nocache", "nobind", "route-nopull",
        "pull-filter", "management", "management-hold", "management-query-passwords",
    }
)  # fmt: skip

#: All routes of a profile together may cover at most this many addresses when the policy
#: forbids a full tunnel: a /4 of IPv4 (16 /8 networks), a /7 of IPv6 (fc00::/7, ULA).
MAX_SPLIT_V4 = 1 << (32 - 4)
MAX_SPLIT_V6 = 1 << (128 - 7)


@dataclass
class SanitizedProfile:
    """The checked profile: options in openvpn's order, facts the driver needs."""

    options: list[Option] = field(default_factory=list)
    has_auth_user_pass: bool = False
    remotes: list[tuple[str, ...]] = field(default_factory=list)
    verb: int = 3
    #: Nothing asks for a local address or port: the driver passes ``--nobind``.
    nobind: bool = True
    #: The policy's full-tunnel decision (pushed routes are cut when False) and its line.
    full_tunnel: bool = True
    full_tunnel_rule: str = ""
    source: str = "profile"
    #: ``auth-user-pass FILE`` (or an inline block): the user name and password it holds,
    #: read as the owner, used when the dial gives none. They reach openvpn over the
    #: management socket like a dial's, never as a file or argument.
    file_user: str = field(default="", repr=False)
    file_password: str = field(default="", repr=False)

    def argv(
        self,
        files_dir: Path,
        driver: Iterable[Option] = (),
        *,
        file_arg: Callable[[Path, bytes], str] | None = None,
    ) -> tuple[list[str], dict[Path, bytes]]:
        """openvpn's arguments (without the program) and the files they name.

        The profile's options come in order, each inline content or file as a path in
        ``files_dir``; then ``driver`` (the driver's own options, which win where openvpn
        keeps the last value). Policy options that must win by coming first (pull filters)
        lead. Every element starting with ``--`` is an option from the allow-list or the
        driver; no argument starts with ``--`` (checked again here). ``file_arg(path,
        content)``, when given, makes the file and returns what the argv names instead of
        ``path`` (the driver's sealed memory files)."""
        args: list[str] = []
        files: dict[Path, bytes] = {}
        if not self.full_tunnel:
            # First match wins among pull filters: ours come before any of the profile's.
            args += ["--route-nopull"]
            args += ["--pull-filter", "ignore", "redirect-gateway"]
            args += ["--pull-filter", "ignore", "redirect-private"]
        counts: dict[str, int] = {}
        for o in self.options:
            if o.block:  # never left by sanitize; refuse rather than guess
                raise RasError(ERROR_PROFILE, f"{self.source}:{o.line}: <{o.name}> left over")
            if o.name == "peer-fingerprint" and o.inline is not None:
                for fp in _fingerprints(o.inline, f"{self.source}:{o.line}"):
                    args += ["--peer-fingerprint", fp]
                continue
            values = list(o.args)
            if o.inline is not None:
                counts[o.name] = n = counts.get(o.name, 0) + 1
                suffix = _FILE_SUFFIX.get(o.name, ".pem")
                path = files_dir / (o.name + ("" if n == 1 else f"-{n}") + suffix)
                files[path] = data = _file_bytes(o, self.source)
                values = [str(path) if file_arg is None else file_arg(path, data), *values]
            args.append("--" + o.name)
            args += [_argv_arg(v, o, self.source) for v in values]
        if self.nobind:
            args.append("--nobind")
        for o in driver:
            args.append("--" + o.name)
            args += [_argv_arg(v, o, "driver") for v in o.args]
        return args, files


def _file_bytes(o: Option, source: str) -> bytes:
    assert o.inline is not None
    if o.name == "pkcs12":  # inline PKCS#12 is base64 (openvpn decodes it); the file is DER
        try:
            return base64.b64decode("".join(o.inline.split()), validate=True)
        except (binascii.Error, ValueError):
            raise RasError(ERROR_PROFILE, f"{source}:{o.line}: <pkcs12> is not base64") from None
    return o.inline.encode("utf-8", "surrogatepass")


_FINGERPRINT = re.compile(r"[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+\Z")


def _fingerprints(content: str, where: str) -> list[str]:
    """The fingerprints of a ``<peer-fingerprint>`` block, one ``--peer-fingerprint`` each."""
    out = []
    for line in content.split("\n"):
        line = line.strip(_C_SPACE_STR)
        if not line or line[0] in "#;":
            continue
        if not _FINGERPRINT.match(line):
            raise RasError(ERROR_PROFILE, f"{where}: '{line[:80]}' is not a fingerprint")
        out.append(line)
    if not out:
        raise RasError(ERROR_PROFILE, f"{where}: <peer-fingerprint> holds no fingerprint")
    return out


def _argv_arg(value: str, o: Option, source: str) -> str:
    """``value`` as one argv element, refused if openvpn would take it for an option."""
    if value.startswith("--"):
        raise RasError(
            ERROR_NOT_ALLOWED,
            f"{source}:{o.line}: argument '{value[:80]}' of '{o.name}' starts with '--' "
            "(openvpn would read it as an option)",
        )
    if "\0" in value:
        raise RasError(ERROR_PROFILE, f"{source}:{o.line}: NUL in '{o.name}'")
    return value


_SAFE_ARG = re.compile(r"[^\x00-\x1f\x7f]*\Z")

FileReader = Callable[[str, int], "str | bytes"]
"""``read(path_as_written, line) -> content``: resolves, reads with the owner's rights."""


def sanitize(
    options: Iterable[Option],
    *,
    source: str,
    read_file: FileReader,
    remote_override: tuple[str, ...] | None = None,
    owner_uid: int = 0,
    grant: Grant | None = None,
) -> SanitizedProfile:
    """Check ``options`` against the allow-list and the policy; RasError naming the first
    refused line. ``owner_uid`` (ports) and ``grant`` (full tunnel) are the dial's."""
    grant = grant or Grant()
    opts = list(options)
    ignorable = {a for o in opts if o.name == "ignore-unknown-option" for a in o.args}
    if not any(
        o.name in ("client", "tls-client", "remote", "connection", "proto", "dev", "ca")
        for o in opts
    ):
        raise RasError(ERROR_PROFILE, f"{source}: not an OpenVPN client profile")
    out = SanitizedProfile(
        full_tunnel=grant.full_tunnel, full_tunnel_rule=grant.full_tunnel_rule, source=source
    )
    for o in opts:
        for kept in _check(
            o, source=source, read_file=read_file, ignorable=ignorable, nested=False
        ):
            _keep(out, kept, source)
    if remote_override is not None:
        out.options = _override_remotes(out.options, remote_override)
    out.options = _flatten_connections(out.options, source)
    out.remotes = [o.args for o in out.options if o.name == "remote"]
    if not out.remotes:
        raise RasError(
            errors.ERROR_BAD_PHONE_NUMBER,
            f"{source}: no server: the profile has no 'remote' and the entry no PhoneNumber",
        )
    out.nobind = _check_ports(out.options, source, owner_uid)
    if not grant.full_tunnel:
        _check_split_tunnel(out.options, source, grant.full_tunnel_rule)
    return out


def _keep(out: SanitizedProfile, kept: Option, source: str) -> None:
    """Record what the driver needs to know; drop what the driver sets itself."""
    if kept.name == "auth-user-pass":
        out.has_auth_user_pass = True
        if kept.inline is not None:
            lines = kept.inline.splitlines()
            out.file_user = lines[0] if lines else ""
            out.file_password = lines[1] if len(lines) > 1 else ""
            out.options.append(Option("auth-user-pass", (), kept.line))
            return
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
    if kept.name in ("dev-type", "nobind"):
        return  # the driver names the device and its type, and decides --nobind
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


_PER_REMOTE = frozenset({"remote", "proto", "port", "rport"})


def _flatten_connections(options: list[Option], source: str) -> list[Option]:
    """``<connection>`` blocks as top-level options (see the module's docstring).

    Each block's ``remote host [port] [proto]`` takes the block's ``port``/``rport`` and
    ``proto`` where it names none; its other options must be the same in every block and
    come once, after the top-level options (a block's options override the defaults)."""
    blocks = [o for o in options if o.name == "connection"]
    if not blocks:
        return options
    default_port = "1194"
    for o in options:
        if o.name in ("port", "rport") and o.args:
            default_port = o.args[0]
    out: list[Option] = []
    shared: list[tuple[str, tuple[str, ...], str | None]] | None = None
    shared_opts: list[Option] = []
    for o in options:
        if o.name != "connection":
            out.append(o)
            continue
        where = f"{source}:{o.line}"
        remotes = [i for i in o.block if i.name == "remote"]
        if len(remotes) != 1:
            raise RasError(
                ERROR_PROFILE, f"{where}: a <connection> block needs exactly one 'remote'"
            )
        port = proto = None
        for i in o.block:
            if i.name in ("port", "rport"):
                port = i.args[0]
            elif i.name == "proto":
                proto = i.args[0]
        r = remotes[0]
        args = list(r.args)
        if len(args) < 2 and (port is not None or proto is not None):
            args.append(port or default_port)
        if len(args) < 3 and proto is not None:
            args.append(proto)
        out.append(replace(r, args=tuple(args)))
        rest = [i for i in o.block if i.name not in _PER_REMOTE and i.name != "nobind"]
        key = [(i.name, i.args, i.inline) for i in rest]
        if shared is None:
            shared, shared_opts = key, rest
        elif key != shared:
            raise RasError(
                ERROR_PROFILE,
                f"{where}: this <connection> block differs from the first one in more than "
                "remote/proto/port; openvpn takes such blocks only from a config file, which "
                "openras never writes (use the same options with several 'remote' lines)",
            )
    return out + shared_opts


def _port_number(o: Option, source: str) -> int:
    value = o.args[0] if o.args else ""
    if not (value.isascii() and value.isdigit() and len(value) <= 5):
        raise RasError(
            ERROR_NOT_ALLOWED, f"{source}:{o.line}: '{o.name} {value[:40]}': not a port number"
        )
    return int(value)


def _check_ports(options: list[Option], source: str, owner_uid: int) -> bool:
    """Whether the driver passes ``--nobind``; refuses a privileged local port (non-root).

    openvpn binds a local port only with ``lport``, ``local`` or ``bind`` (and then uses
    ``lport``, else ``port``, else 1194); otherwise the driver passes ``--nobind``."""
    binds = any(o.name in ("lport", "local", "bind") for o in options)
    if not binds:
        return True
    if owner_uid == 0:
        return False
    has_lport = any(o.name == "lport" for o in options)
    for o in options:
        bound = o.name == "lport" or (o.name == "port" and not has_lport)
        if bound and _port_number(o, source) < 1024:
            raise RasError(
                ERROR_NOT_ALLOWED,
                f"{source}:{o.line}: '{o.name} {o.args[0]}' would bind a privileged "
                "local port (below 1024), which only root's links may",
            )
    return False


def _denied(o: Option, source: str, rule: str, what: str) -> RasError:
    return RasError(
        ERROR_NOT_ALLOWED,
        f"{source}:{o.line}: {what}: a full tunnel is not allowed by policy ({rule})",
    )


def _netmask_prefix(mask: str) -> int | None:
    """The prefix length of a contiguous dotted-quad netmask, else None."""
    try:
        return ipaddress.IPv4Network(f"0.0.0.0/{mask}").prefixlen
    except ValueError:
        return None


def _check_split_tunnel(options: list[Option], source: str, rule: str) -> None:
    """Refuse what routes everything: redirect-*, and routes that cover too much together."""
    v4: list[ipaddress.IPv4Network] = []
    v6: list[ipaddress.IPv6Network] = []
    for o in options:
        if o.name in ("redirect-gateway", "redirect-private"):
            raise _denied(o, source, rule, f"'{o.name}'")
        if o.name == "route":
            net, mask = o.args[0], o.args[1] if len(o.args) > 1 else "default"
            prefix = 32 if mask == "default" else _netmask_prefix(mask)
            if prefix is None:
                raise RasError(
                    ERROR_PROFILE, f"{source}:{o.line}: 'route': '{mask[:40]}' is not a netmask"
                )
            try:
                v4.append(ipaddress.IPv4Network(f"{net}/{prefix}", strict=False))
            except ValueError:
                if prefix < 32:  # a name (or vpn_gateway...): only a single host is checkable
                    raise _denied(
                        o, source, rule, f"'route {net} {mask}' (not an address)"
                    ) from None
        elif o.name in ("route-ipv6", "ifconfig-ipv6"):
            try:
                v6.append(ipaddress.IPv6Network(o.args[0], strict=False))
            except ValueError:
                raise RasError(
                    ERROR_PROFILE, f"{source}:{o.line}: '{o.name} {o.args[0][:60]}': bad address"
                ) from None
        elif o.name == "ifconfig" and len(o.args) > 1:
            # With topology subnet the second argument is a netmask: its subnet is routed.
            prefix = _netmask_prefix(o.args[1])
            if prefix is not None and prefix < 32:
                with_mask = ipaddress.IPv4Network(f"0.0.0.0/{prefix}")
                v4.append(with_mask)
        else:
            continue
        if _covered(v4) > MAX_SPLIT_V4 or _covered(v6) > MAX_SPLIT_V6:
            raise _denied(
                o,
                source,
                rule,
                f"'{o.name} {' '.join(o.args)[:80]}' routes too much (with the routes before it)",
            )


_Net = TypeVar("_Net", ipaddress.IPv4Network, ipaddress.IPv6Network)


def _covered(nets: list[_Net]) -> int:
    """How many addresses ``nets`` cover together (overlaps counted once)."""
    return sum(n.num_addresses for n in ipaddress.collapse_addresses(nets))


def pushed_coverage_problem(ifconfig_mask: str, ifconfig_ipv6: str, topology: str) -> str | None:
    """What is wrong with a server's pushed address when a full tunnel is not allowed:
    with ``topology subnet`` the ``ifconfig`` netmask's subnet is routed to the tunnel (and
    ``ifconfig-ipv6 addr/bits`` likewise), which ``--route-nopull`` does not stop."""
    if topology == "subnet" and ifconfig_mask:
        prefix = _netmask_prefix(ifconfig_mask)
        if prefix is not None and (1 << (32 - prefix)) > MAX_SPLIT_V4:
            return f"the server pushed 'ifconfig ... {ifconfig_mask}'"
    if "/" in ifconfig_ipv6:
        try:
            net = ipaddress.IPv6Network(ifconfig_ipv6, strict=False)
        except ValueError:
            return None
        if net.num_addresses > MAX_SPLIT_V6:
            return f"the server pushed 'ifconfig-ipv6 {ifconfig_ipv6}'"
    return None


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
    """``o`` as openvpn will get it (maybe with its file read, maybe as two options), or []
    if dropped."""
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
        _argv_arg(arg, o, source)
    if o.inline is not None:
        if not rule.inline:
            raise RasError(ERROR_NOT_ALLOWED, f"{where}: option '{o.name}' is not allowed inline")
        if o.name == "peer-fingerprint":
            _fingerprints(o.inline, where)
        return [o]
    if o.name == "auth-user-pass" and o.args:
        # Honoured as openvpn does (user, then password, a line each), read as the owner;
        # kept out of argv and files: the driver answers openvpn's query with it.
        if len(o.args) > 1:
            raise RasError(ERROR_PROFILE, f"{where}: 'auth-user-pass' takes one file")
        raw = read_file(o.args[0], o.line)
        try:
            text = raw if isinstance(raw, str) else raw.decode("utf-8")
        except UnicodeDecodeError:
            raise RasError(ERROR_PROFILE, f"{where}: {o.args[0]} is not text") from None
        return [Option("auth-user-pass", (), o.line, text)]
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
    if o.name == "static-challenge" and (
        o.args[1] not in ("0", "1") or o.args[2:] not in ((), ("scrv1",), ("concat",))
    ):
        raise RasError(
            ERROR_PROFILE, f"{where}: 'static-challenge TEXT 0|1 [scrv1|concat]' expected"
        )
    if o.name == "crl-verify" and len(o.args) > 1:
        raise RasError(ERROR_NOT_ALLOWED, f"{where}: 'crl-verify ... dir' is not allowed")
    if rule.file_arg is None or not o.args:
        return [o]
    path = o.args[rule.file_arg]
    if path == "[inline]":
        raise RasError(ERROR_PROFILE, f"{where}: '{o.name} [inline]' without an inline block")
    raw = read_file(path, o.line)
    if o.name == "pkcs12":  # binary: kept as base64, like an inline <pkcs12> block
        data = raw if isinstance(raw, bytes) else raw.encode("latin-1")
        content = base64.b64encode(data).decode("ascii") + "\n"
    else:
        content = raw if isinstance(raw, str) else _pem_text(raw, where, path)
    inlined = Option(o.name, (), o.line, content)
    rest = o.args[rule.file_arg + 1 :]
    if not rest:
        return [inlined]
    if o.name in ("tls-auth", "secret") and rest[0] in ("0", "1"):
        # tls-auth FILE DIR: the direction goes separately, as for an inline block.
        return [inlined, Option("key-direction", (rest[0],), o.line)]
    raise RasError(ERROR_NOT_ALLOWED, f"{where}: '{o.name} FILE {rest[0]}' is not allowed")


def _pem_text(data: bytes, where: str, path: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise RasError(ERROR_NO_CERT, f"{where}: {path} is not PEM text") from None


# ------------------------------------------------------------------------------- import

#: Lines a provider's export carries that mean nothing here or that openras does itself:
#: an import comments them out, with a note, instead of refusing the profile.
DROPPED_AT_IMPORT: Mapping[str, str] = {
    "setenv": "environment for scripts, which openras never runs",
    "setenv-safe": "environment for scripts, which openras never runs",
    "script-security": "openras runs no scripts",
    "up": "a script; openras configures the link itself",
    "down": "a script; openras configures the link itself",
    "down-pre": "a script; openras configures the link itself",
    "route-up": "a script; openras configures the link itself",
    "route-pre-down": "a script; openras configures the link itself",
    "ipchange": "a script; openras configures the link itself",
    "up-restart": "about scripts, which openras never runs",
    "log": "openras keeps the link's log",
    "log-append": "openras keeps the link's log",
    "writepid": "openras supervises the program itself",
    "daemon": "openras supervises the program itself",
    "status": "openras reads the state over the management socket",
}

#: What to write instead of an option openras refuses.
HINTS: Mapping[str, str] = {
    "ns-cert-type": "use 'remote-cert-tls server'",
    "tls-remote": "use 'verify-x509-name NAME name'",
    "dev": "only 'dev tun' works here",
    "plugin": "plugins never run under openras",
    "management": "openras owns the management socket",
    "config": "put the options in this profile",
}


def problems(
    options: list[Option],
    *,
    source: str,
    read_file: FileReader,
    owner_uid: int = 0,
    grant: Grant | None = None,
) -> list[str]:
    """Every reason ``sanitize`` would refuse ``options``, each with a hint where there is
    one, instead of only the first (for an import that lists them all at once)."""
    ignorable = {a for o in options if o.name == "ignore-unknown-option" for a in o.args}
    found: list[str] = []
    kept: list[Option] = []
    for o in options:
        try:
            kept += _check(o, source=source, read_file=read_file, ignorable=ignorable, nested=False)
        except RasError as exc:
            hint = HINTS.get(o.name)
            found.append((exc.detail or str(exc)) + (f" ({hint})" if hint else ""))
    if not found:
        try:
            sanitize(options, source=source, read_file=read_file, owner_uid=owner_uid, grant=grant)
        except RasError as exc:
            found.append(exc.detail or str(exc))
    return found
