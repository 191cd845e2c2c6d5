"""Client profiles: openvpn's tokenizer, the allow-list, inlining files as the owner."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openras.errors import RasError
from openras.links.base import DialParams, LinkSpec
from openras.links.openvpn import profile as pf
from openras.links.openvpn.driver import load_profile
from openras.manager.entries import EntrySnapshot
from openras.policy import Grant

PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"

BASE = f"""\
client
dev tun
proto udp
remote vpn.example.com 1194
nobind
<ca>
{PEM}</ca>
remote-cert-tls server
auth-user-pass
"""


def no_files(path: str, line: int) -> str:
    raise AssertionError(f"unexpected file read {path} (line {line})")


def sanitize(text: str, **kw: object) -> pf.SanitizedProfile:
    read = kw.pop("read_file", no_files)
    return pf.sanitize(pf.parse(text, "p.ovpn"), source="p.ovpn", read_file=read, **kw)  # type: ignore[arg-type]


KEYS = Path("/run/openras/t/keys")


def argv(prof: pf.SanitizedProfile) -> tuple[list[str], dict[str, str]]:
    """The profile's argv (driver options excluded) and its files by name, as text."""
    args, files = prof.argv(KEYS)
    assert all(p.parent == KEYS for p in files)
    return args, {p.name: data.decode() for p, data in files.items()}


def options(args: list[str]) -> list[list[str]]:
    """argv split the way openvpn's parse_argv splits it: a new option at every '--'."""
    out: list[list[str]] = []
    for a in args:
        if a.startswith("--"):
            out.append([a[2:]])
        else:
            assert out, f"argument {a!r} before any option"
            out[-1].append(a)
    return out


# ------------------------------------------------------------------------------- tokenizer


@pytest.mark.parametrize(
    ("line", "tokens"),
    [
        ("remote host 1194", ["remote", "host", "1194"]),
        ("  --remote   host\t1194  ", ["--remote", "host", "1194"]),
        ('ca "my dir/ca.crt"', ["ca", "my dir/ca.crt"]),
        ("ca 'it''s'", ["ca", "it", "s"]),
        ("ca 'a\\b'", ["ca", "a\\b"]),
        ('x "a\\"b" c\\ d', ["x", 'a"b', "c d"]),
        ("x a#b ;c", ["x", "a#b"]),
        ("# comment", []),
        ("; comment", []),
        ("x \\# y", ["x"]),
        ("", []),
    ],
)
def test_tokenize_like_openvpn(line: str, tokens: list[str]) -> None:
    assert pf.tokenize(line) == tokens


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=" \t\n\r\v\f#;ab-1é\x1c\xa0", max_size=60))
def test_tokenize_plain_lines_split_as_the_state_machine_does(line: str) -> None:
    """The plain split (lines without quotes or backslashes) is openvpn's state machine."""
    assert pf.tokenize(line) == pf._tokenize_quoted(line)


def test_tokenize_keeps_openvpns_limit_of_parameters() -> None:
    line = " ".join(f"a{i}" for i in range(40))
    assert pf.tokenize(line) == pf._tokenize_quoted(line) == line.split()[: pf.MAX_PARAMS]


@pytest.mark.parametrize("line", ['ca "open', "ca 'open", "ca a\\b", "ca a\\"])
def test_tokenize_errors(line: str) -> None:
    assert pf.tokenize(line) is None


def test_parse_inline_blocks_and_line_numbers() -> None:
    opts = pf.parse(
        "\ufeffclient\n<ca>\nA\n  </ca> trailing\n<connection>\nremote h 1\n</connection>\nverb 3\n"
    )
    assert opts[0] == pf.Option("client", (), 1)
    assert opts[1] == pf.Option("ca", (), 2, "A\n")
    assert opts[2].name == "connection" and opts[2].block == (pf.Option("remote", ("h", "1"), 6),)
    assert opts[3] == pf.Option("verb", ("3",), 8)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("client\n<ca>\nA\n", "p.ovpn:2: <ca> is never closed"),
        ("client\n</ca>\n", "p.ovpn:2"),
        ('client\nca "x\n', "p.ovpn:2: bad quoting"),
        ("client\n" + "x" * 300 + "\n", "p.ovpn:2: line longer"),
        ("client\n" + "é" * 128 + "\n", "p.ovpn:2: line longer than 255 bytes"),
        ("client\n<ca>\n" + "é" * 127 + "a</ca>\n</ca>\n", "p.ovpn:3: line longer"),
        ("client\x00\n", "binary"),
    ],
)
def test_syntax_errors_name_the_line(text: str, where: str) -> None:
    with pytest.raises(RasError) as info:
        pf.parse(text, "p.ovpn")
    assert info.value.code == pf.ERROR_PROFILE and where in str(info.value.detail)


# ------------------------------------------------------------------------------- allow-list


def test_a_plain_profile_is_rebuilt() -> None:
    out = sanitize(BASE)
    assert out.has_auth_user_pass
    assert out.remotes == [("vpn.example.com", "1194")]
    args, files = argv(out)
    assert options(args) == [
        ["client"], ["proto", "udp"], ["remote", "vpn.example.com", "1194"],
        ["ca", str(KEYS / "ca.pem")], ["remote-cert-tls", "server"], ["auth-user-pass"],
        ["nobind"],
    ]  # fmt: skip
    assert files == {"ca.pem": PEM}


DANGEROUS = [
    ("up /tmp/x.sh", "up"),
    ("down /tmp/x.sh", "down"),
    ("route-up /tmp/x.sh", "route-up"),
    ("route-pre-down /tmp/x.sh", "route-pre-down"),
    ("ipchange /tmp/x.sh", "ipchange"),
    ("tls-verify /tmp/x.sh", "tls-verify"),
    ("client-connect /tmp/x.sh", "client-connect"),
    ("learn-address /tmp/x.sh", "learn-address"),
    ("auth-user-pass-verify /tmp/x.sh via-env", "auth-user-pass-verify"),
    ("plugin /tmp/evil.so", "plugin"),
    ("config /etc/other.conf", "config"),
    ("cd /", "cd"),
    ("chroot /tmp", "chroot"),
    ("daemon", "daemon"),
    ("management 0.0.0.0 7505", "management"),
    ("management-hold", "management-hold"),
    ("log /etc/passwd", "log"),
    ("log-append /etc/passwd", "log-append"),
    ("writepid /etc/passwd", "writepid"),
    ("status /etc/passwd", "status"),
    ("up-restart", "up-restart"),
    ("setenv LD_PRELOAD /tmp/evil.so", "setenv"),
    ("setenv opt up /tmp/x.sh", "setenv"),
    ("iproute /tmp/fake-ip", "iproute"),
    ("dev-node /dev/sda", "dev-node"),
    ("engine dynamic", "engine"),
    ("providers legacy", "providers"),
    ("askpass /root/pass", "askpass"),
    ("pkcs11-providers /tmp/evil.so", "pkcs11-providers"),
    ("tls-export-cert /tmp", "tls-export-cert"),
    ("no-such-option 1", "no-such-option"),
]


@pytest.mark.parametrize(("line", "name"), DANGEROUS, ids=[d[1] for d in DANGEROUS])
def test_refused_options_name_file_and_line(line: str, name: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(BASE + line + "\n")
    assert info.value.code == pf.ERROR_NOT_ALLOWED
    assert info.value.detail == f"p.ovpn:13: option '{name}' is not allowed"


@pytest.mark.parametrize(
    "line",
    [
        "script-security 2",
        "script-security 3",
        "auth-retry interact",
        "dev tap",
        "tls-crypt-v2 k.key force-cookie",
        "crl-verify /etc dir",
    ],
)
def test_refused_values(line: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(BASE + line + "\n", read_file=lambda p, n: PEM)
    assert info.value.code == pf.ERROR_NOT_ALLOWED
    assert info.value.detail is not None and info.value.detail.startswith("p.ovpn:13: ")


def test_static_challenge_goes_to_openvpn_as_given() -> None:
    """The server's one-time code is asked of the user (RASCS_Interactive): the option
    reaches openvpn's argv as the profile says it, its text one argument."""
    prof = sanitize(BASE + "static-challenge 'Enter PIN: x' 1 concat\n")
    assert [o.args for o in prof.options if o.name == "static-challenge"] == [
        ("Enter PIN: x", "1", "concat")
    ]


@pytest.mark.parametrize("line", ["static-challenge 'PIN' 2", "static-challenge PIN 1 plain"])
def test_static_challenge_flags_are_checked(line: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(BASE + line + "\n")
    assert info.value.code == pf.ERROR_PROFILE
    assert "static-challenge TEXT 0|1" in (info.value.detail or "")


@pytest.mark.parametrize("line", ["topology bogus", "key-direction 2", "proto sctp", "verb x"])
def test_bad_values_are_config_errors(line: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(BASE + line + "\n")
    assert info.value.code == pf.ERROR_PROFILE
    assert str(info.value.detail).startswith("p.ovpn:13: ")


def test_profile_credentials_are_read_as_the_owner_and_never_reach_argv_or_files() -> None:
    """``auth-user-pass FILE`` (read through the owner's reader) and an inline block give
    the credentials the driver answers openvpn's query with; openvpn sees a bare option."""
    asked: list[str] = []

    def read(path: str, line: int) -> bytes:
        asked.append(path)
        return b"alice\ns3cret-pw\n"

    for text in (
        BASE.replace("auth-user-pass\n", "auth-user-pass creds.txt\n"),
        BASE.replace("auth-user-pass\n", "<auth-user-pass>\nalice\ns3cret-pw\n</auth-user-pass>\n"),
    ):
        prof = sanitize(text, read_file=read)
        assert (prof.file_user, prof.file_password) == ("alice", "s3cret-pw")
        args, files = argv(prof)
        assert "--auth-user-pass" in args
        assert "s3cret-pw" not in " ".join(args) + "".join(files.values()) + repr(prof)
    assert asked == ["creds.txt"]


def test_script_blocks_are_refused() -> None:
    with pytest.raises(RasError, match="'up' is not allowed"):
        sanitize("client\nremote h\n<connection>\nremote h2\nup /bin/sh\n</connection>\n")


def test_ignore_unknown_option_drops_unknown_but_never_dangerous() -> None:
    ok = sanitize(BASE + "ignore-unknown-option fancy-thing\nfancy-thing 1\n")
    assert "fancy" not in " ".join(argv(ok)[0])
    with pytest.raises(RasError, match="'up' is not allowed"):
        sanitize(BASE + "ignore-unknown-option up\nup /tmp/x\n")


def test_windows_and_privilege_options_are_dropped() -> None:
    out = sanitize(BASE + "block-outside-dns\nuser nobody\ngroup nogroup\nregister-dns\n")
    text = " ".join(argv(out)[0])
    assert "nobody" not in text and "block-outside-dns" not in text


@pytest.mark.parametrize(
    "text",
    ["[Office]\nPhoneNumber=1\nType=2\n", "hello world\n", "# only comments\n", ""],
)
def test_not_an_openvpn_profile(text: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(text)
    assert info.value.code == pf.ERROR_PROFILE
    assert "not an OpenVPN" in str(info.value.detail) or "is not allowed" in str(info.value.detail)


def test_files_are_read_through_the_callback_and_inlined() -> None:
    reads: list[tuple[str, int]] = []

    def read(path: str, line: int) -> str:
        reads.append((path, line))
        return (
            PEM
            if not path.endswith("ta.key")
            else "-----BEGIN OpenVPN Static key V1-----\nab\n-----END OpenVPN Static key V1-----\n"
        )

    out = sanitize(
        "client\nremote h\nca ca.crt\ncert c.crt\nkey c.key\ntls-auth ta.key 1\n", read_file=read
    )
    assert reads == [("ca.crt", 3), ("c.crt", 4), ("c.key", 5), ("ta.key", 6)]
    args, files = argv(out)
    assert options(args)[2:] == [
        ["ca", str(KEYS / "ca.pem")], ["cert", str(KEYS / "cert.pem")],
        ["key", str(KEYS / "key.pem")], ["tls-auth", str(KEYS / "tls-auth.key")],
        ["key-direction", "1"], ["nobind"],
    ]  # fmt: skip
    assert files["cert.pem"] == PEM and "ca.crt" not in " ".join(args)


def test_file_content_is_only_ever_a_file() -> None:
    """A file (or inline block) holding config text stays bytes in a 0600 file: no parser of
    openvpn's reads it as options any more."""
    evil = PEM + "</cert>\nup /tmp/x.sh\n<cert>\n"
    args, files = argv(sanitize("client\nremote h\ncert c.crt\n", read_file=lambda p, n: evil))
    assert files == {"cert.pem": evil}
    assert [o[0] for o in options(args)] == ["client", "remote", "cert", "nobind"]


def test_phone_number_overrides_remote_host() -> None:
    out = sanitize(BASE, remote_override=pf.parse_phone_number("10.0.0.1"))
    assert out.remotes == [("10.0.0.1", "1194")]
    out = sanitize(BASE, remote_override=pf.parse_phone_number("10.0.0.1:443"))
    assert out.remotes == [("10.0.0.1", "443")]
    out = sanitize("client\nca c\n", remote_override=("h", "1"), read_file=lambda p, n: PEM)
    assert out.remotes == [("h", "1")]
    conn = "client\n<connection>\nremote a 1\n</connection>\n<connection>\nremote b 2 tcp\n</connection>\n"
    out = sanitize(conn, remote_override=("z",))
    assert out.remotes == [("z", "1"), ("z", "2", "tcp")]
    assert pf.parse_phone_number("  ") is None
    for bad in ("a b c", "-x", "h:port", "h\x01"):
        with pytest.raises(RasError) as info:
            pf.parse_phone_number(bad)
        assert info.value.code == 749


def test_no_server_anywhere_is_749() -> None:
    with pytest.raises(RasError) as info:
        sanitize("client\nca c\n", read_file=lambda p, n: PEM)
    assert info.value.code == 749


def test_windows_line_ends_are_fine() -> None:
    out = sanitize(BASE.replace("\n", "\r\n"))
    assert out.remotes == [("vpn.example.com", "1194")]
    args, files = argv(out)
    assert "\r" not in "".join(args) and files == {"ca.pem": PEM}


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_any_text_parses_or_fails_with_a_ras_error(text: str) -> None:
    try:
        opts = pf.parse(text, "p.ovpn")
        pf.sanitize(opts, source="p.ovpn", read_file=lambda p, n: PEM)
    except RasError as exc:
        assert exc.code in (pf.ERROR_PROFILE, pf.ERROR_NOT_ALLOWED, 749)


def test_verb_is_kept_for_the_driver() -> None:
    assert sanitize(BASE + "verb 7\n").verb == 7
    assert "--verb" not in argv(sanitize(BASE + "verb 1\n"))[0]


_ARG = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF, blacklist_characters="\x7f"),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_ARG, min_size=1, max_size=3))
def test_argv_arguments_are_exactly_what_was_understood(args: list[str]) -> None:
    """Whatever an argument holds (quotes, backslashes, '#', '<'), it is one argv element of
    the same option, or refused when openvpn would take it for an option ('--...')."""
    prof = pf.SanitizedProfile(options=[pf.Option("remote", tuple(args), 1)], nobind=False)
    if any(a.startswith("--") for a in args):
        with pytest.raises(RasError) as info:
            prof.argv(KEYS)
        assert info.value.code == pf.ERROR_NOT_ALLOWED
        return
    assert prof.argv(KEYS) == (["--remote", *args], {})


# ------------------------------------------------------------------------------- files as the owner


def _spec(pbk: Path, owner: int, **keys: str) -> LinkSpec:
    return LinkSpec(
        handle=1, owner_uid=owner,
        entry=EntrySnapshot("VPN", {k.lower(): v for k, v in keys.items()}, str(pbk)),
        params=DialParams(), run_dir=pbk.parent / "run", marker="t:1", phonebook=pbk,
    )  # fmt: skip


def test_load_profile_relative_to_the_phonebook(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_text(PEM)
    (tmp_path / "vpn.ovpn").write_text("client\nremote h 1\nca ca.crt\n")
    prof = load_profile(_spec(tmp_path / "x.pbk", 0, OpenRasOpenVpnProfile="vpn.ovpn"))
    assert argv(prof)[1] == {"ca.pem": PEM}


def test_missing_profile_and_missing_cert(tmp_path: Path) -> None:
    with pytest.raises(RasError) as info:
        load_profile(_spec(tmp_path / "x.pbk", 0, OpenRasOpenVpnProfile="nope.ovpn"))
    assert info.value.code == pf.ERROR_PROFILE and "No such file" in str(info.value.detail)
    (tmp_path / "vpn.ovpn").write_text("client\nremote h 1\nca missing.crt\n")
    with pytest.raises(RasError) as info:
        load_profile(_spec(tmp_path / "x.pbk", 0, OpenRasOpenVpnProfile="vpn.ovpn"))
    assert info.value.code == pf.ERROR_NO_CERT
    assert "vpn.ovpn:3" in str(info.value.detail) and "missing.crt" in str(info.value.detail)
    with pytest.raises(RasError) as info:
        load_profile(_spec(tmp_path / "x.pbk", 0))
    assert info.value.code == pf.ERROR_PROFILE


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("head") is None, reason="needs root")
def test_files_are_read_with_the_owners_rights(tmp_path_factory: pytest.TempPathFactory) -> None:
    nobody = 65534
    d = Path(f"/tmp/oras-prof-{os.getpid()}")
    d.mkdir(mode=0o755)
    try:
        (d / "vpn.ovpn").write_text("client\nremote h 1\nca /root-only.crt\nkey secret.key\n")
        (d / "vpn.ovpn").chmod(0o644)
        (d / "secret.key").write_text(PEM)
        (d / "secret.key").chmod(0o600)  # root's, not readable by nobody
        pbk = d / "x.pbk"
        (d / "vpn2.ovpn").write_text("client\nremote h 1\nkey secret.key\n")
        (d / "vpn2.ovpn").chmod(0o644)
        with pytest.raises(RasError) as info:
            load_profile(_spec(pbk, nobody, OpenRasOpenVpnProfile="vpn2.ovpn"))
        assert info.value.code == pf.ERROR_NO_CERT
        assert "Permission denied" in str(info.value.detail)
        (d / "vpn2.ovpn").chmod(0o600)
        with pytest.raises(RasError) as info:
            load_profile(_spec(pbk, nobody, OpenRasOpenVpnProfile="vpn2.ovpn"))
        assert info.value.code == pf.ERROR_PROFILE
        # Readable by the owner: accepted.
        (d / "secret.key").chmod(0o644)
        (d / "vpn2.ovpn").chmod(0o644)
        assert stat.S_IMODE((d / "secret.key").stat().st_mode) == 0o644
        prof = load_profile(_spec(pbk, nobody, OpenRasOpenVpnProfile="vpn2.ovpn"))
        assert argv(prof)[1] == {"key.pem": PEM}
        # A profile checked before is no pass: the kernel is asked again on every dial.
        (d / "secret.key").chmod(0o600)
        with pytest.raises(RasError) as info:
            load_profile(_spec(pbk, nobody, OpenRasOpenVpnProfile="vpn2.ovpn"))
        assert info.value.code == pf.ERROR_NO_CERT
        assert "Permission denied" in str(info.value.detail)
    finally:
        shutil.rmtree(d)


def test_a_profile_checked_before_is_reused_only_while_every_file_reads_the_same(
    tmp_path: Path,
) -> None:
    """The parse and check are skipped when the profile and each file it names read the same
    as at the last check; any change to any of them (whatever its size and time stamps say),
    another number or a file gone is seen on the next dial."""
    ca, key = tmp_path / "ca.crt", tmp_path / "client.key"
    ca.write_text(PEM)
    key.write_text(PEM)
    (tmp_path / "vpn.ovpn").write_text("client\nremote h 1\nca ca.crt\nkey client.key\n")
    spec = _spec(tmp_path / "x.pbk", 0, OpenRasOpenVpnProfile="vpn.ovpn")
    first = load_profile(spec)
    assert load_profile(spec) is first  # unchanged: the same checked result
    other = PEM.replace("MII", "MIJ", 1)
    assert len(other) == len(PEM) and other != PEM
    stamp = key.stat()
    key.write_text(other)
    os.utime(key, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # same size, same mtime
    changed = load_profile(spec)
    assert changed is not first and argv(changed)[1]["key.pem"] == other
    assert load_profile(spec) is changed
    numbered = load_profile(
        _spec(tmp_path / "x.pbk", 0, OpenRasOpenVpnProfile="vpn.ovpn", PhoneNumber="other 443")
    )
    assert numbered.remotes == [("other", "443")] and changed.remotes == [("h", "1")]
    ca.unlink()
    with pytest.raises(RasError) as info:
        load_profile(spec)
    assert info.value.code == pf.ERROR_NO_CERT and "ca.crt" in str(info.value.detail)


# ------------------------------------------------------------------------------- connection blocks


def test_connection_blocks_become_several_remotes() -> None:
    text = (
        "client\nport 1194\nca c\n"
        "<connection>\nremote a.example\nproto udp\nnobind\n</connection>\n"
        "<connection>\nremote b.example 443\nproto tcp-client\nnobind\n</connection>\n"
        "<connection>\nremote c.example\nport 8443\nnobind\n</connection>\n"
    )
    args, _ = argv(sanitize(text, read_file=lambda p, n: PEM))
    assert options(args) == [
        ["client"], ["port", "1194"], ["ca", str(KEYS / "ca.pem")],
        ["remote", "a.example", "1194", "udp"], ["remote", "b.example", "443", "tcp-client"],
        ["remote", "c.example", "8443"], ["nobind"],
    ]  # fmt: skip


def test_connection_blocks_that_differ_are_refused_naming_the_block() -> None:
    text = (
        "client\n<connection>\nremote a\nhttp-proxy p 8080\n</connection>\n"
        "<connection>\nremote b\n</connection>\n"
    )
    with pytest.raises(RasError) as info:
        sanitize(text)
    assert info.value.code == pf.ERROR_PROFILE
    assert str(info.value.detail).startswith("p.ovpn:6: this <connection> block differs")
    with pytest.raises(RasError, match=r"p\.ovpn:2: a <connection> block needs exactly one"):
        sanitize("client\n<connection>\nproto udp\n</connection>\n")


def test_shared_connection_options_come_after_the_top_level_ones() -> None:
    text = (
        "client\nconnect-timeout 5\n<connection>\nremote a\nconnect-timeout 9\n</connection>\n"
        "<connection>\nremote b\nconnect-timeout 9\n</connection>\n"
    )
    names = options(argv(sanitize(text))[0])
    assert names == [
        ["client"], ["connect-timeout", "5"], ["remote", "a"], ["remote", "b"],
        ["connect-timeout", "9"], ["nobind"],
    ]  # fmt: skip


# ------------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ("lport 80", "lport 80"),
        ("lport 0", "lport 0"),
        ("local 10.0.0.1\nport 443", "port 443"),
        ("bind\nport 22", "port 22"),
        ("local 10.0.0.1\nlport https", "lport https"),
        ("<connection>\nremote h\nlport 25\n</connection>", "lport 25"),
    ],
)
def test_a_non_root_owner_never_binds_a_privileged_port(extra: str, line: str) -> None:
    text = "client\nremote h 1194\n" + extra + "\n"
    with pytest.raises(RasError) as info:
        sanitize(text, owner_uid=1000)
    assert info.value.code == pf.ERROR_NOT_ALLOWED
    assert f"'{line}'" in str(info.value.detail) and "p.ovpn:" in str(info.value.detail)
    sanitize(text.replace("lport https", "lport 99"), owner_uid=0)  # root may


def test_nobind_unless_the_profile_binds() -> None:
    plain = sanitize("client\nremote h 443\nport 443\n", owner_uid=1000)
    assert plain.nobind and argv(plain)[0][-1] == "--nobind"
    bound = sanitize("client\nremote h\nlport 40000\nport 443\n", owner_uid=1000)
    assert not bound.nobind and "--nobind" not in argv(bound)[0]
    assert ["lport", "40000"] in options(argv(bound)[0])


# ------------------------------------------------------------------------------- full tunnel

SPLIT = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:3: full-tunnel = no")


@pytest.mark.parametrize(
    "lines",
    [
        "redirect-gateway def1",
        "redirect-gateway",
        "redirect-private",
        "route 0.0.0.0 0.0.0.0",
        "route 0.0.0.0 0.0.0.0 vpn_gateway",
        "route 1.2.3.4 0.0.0.0",
        "route 0.0.0.0 128.0.0.0\nroute 128.0.0.0 128.0.0.0",
        "route 0.0.0.0 192.0.0.0",
        "route-ipv6 ::/0",
        "route-ipv6 ::/1\nroute-ipv6 8000::/1",
        "route-ipv6 2000::/3",
        "route some.host 255.0.0.0",
        "route net_gateway 0.0.0.0",
        "ifconfig 10.0.0.2 128.0.0.0",
        "\n".join(f"route {n}.0.0.0 255.0.0.0" for n in range(1, 40)),
    ],
)
def test_without_full_tunnel_default_routes_are_refused(lines: str) -> None:
    with pytest.raises(RasError) as info:
        sanitize(BASE + lines + "\n", grant=SPLIT)
    assert info.value.code == pf.ERROR_NOT_ALLOWED
    detail = str(info.value.detail)
    assert detail.startswith("p.ovpn:") and "policy.conf:3: full-tunnel = no" in detail
    sanitize(BASE + lines + "\n")  # allowed with a full tunnel


def test_split_tunnel_routes_are_fine_and_pushes_are_cut() -> None:
    text = BASE + "route 10.0.0.0 255.0.0.0\nroute 192.168.0.0 255.255.0.0\nroute-ipv6 fd00::/8\n"
    prof = sanitize(text, grant=SPLIT)
    args = argv(prof)[0]
    assert args[:7] == [
        "--route-nopull", "--pull-filter", "ignore", "redirect-gateway",
        "--pull-filter", "ignore", "redirect-private",
    ]  # fmt: skip
    assert ["route", "10.0.0.0", "255.0.0.0"] in options(args)
    assert "--route-nopull" not in argv(sanitize(text))[0]


def test_pushed_subnet_wider_than_the_policy_allows() -> None:
    assert pf.pushed_coverage_problem("255.255.255.0", "", "subnet") is None
    assert pf.pushed_coverage_problem("128.0.0.0", "", "subnet") is not None
    assert pf.pushed_coverage_problem("128.0.0.0", "", "net30") is None  # a peer address
    assert pf.pushed_coverage_problem("", "fd00::2/64", "") is None
    assert pf.pushed_coverage_problem("", "2000::2/3", "") is not None
