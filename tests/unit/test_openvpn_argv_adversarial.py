"""Adversarial profiles against the parser and the argv builder (security finding: root code
execution through an OpenVPN profile).

The property checked everywhere: a profile is either refused with a RasError, or the argv
openvpn gets holds only options of the allow-list or the driver's, read back the way
openvpn's ``parse_argv`` reads argv (a new option at every element starting with ``--``).
No ``--config``, ``--plugin``, ``--up``, ``--script-security 2``... can ever appear, whatever
bytes the profile holds, because no text of the user's meets openvpn's config parser.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openras.errors import RasError
from openras.links.openvpn import profile as pf
from openras.links.openvpn.driver import SOCKET_FILE, build_argv
from openras.policy import Grant

PEM = "-----BEGIN CERTIFICATE-----\nMIIBdummy\n-----END CERTIFICATE-----\n"
RUN = Path("/run/openras/links/7")
SPLIT = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:3: full-tunnel = no")
#: What the allow-list lets through, plus what the driver sets (its argv and pull filters).
ALLOWED_OPTIONS = frozenset(pf.ALLOWED) | pf.DRIVER_OPTIONS
FORBIDDEN = frozenset(pf.DANGEROUS) | {"config", "plugin", "up", "script-security 2"}


def split_argv(argv: list[str]) -> list[list[str]]:
    """openvpn's parse_argv: every element starting with '--' starts an option."""
    assert argv and not argv[0].startswith("-"), "argv[0] is the program"
    out: list[list[str]] = []
    for a in argv[1:]:
        if a.startswith("--"):
            out.append([a[2:]])
        else:
            assert out, f"{a!r} before any option: openvpn would refuse to start"
            out[-1].append(a)
    return out


def build(text: str, *, uid: int = 1000, grant: Grant | None = None) -> list[str]:
    prof = pf.sanitize(
        pf.parse(text, "p.ovpn"),
        source="p.ovpn",
        read_file=lambda p, n: PEM,
        owner_uid=uid,
        grant=grant or Grant(),
    )
    argv, files = build_argv(prof, RUN, "orvpn7")
    assert all(p.parent == RUN / "keys" for p in files)
    check_argv(argv, prof)
    return argv


def check_argv(argv: list[str], prof: pf.SanitizedProfile) -> None:
    opts = split_argv(argv)
    # The driver's own options come last, exactly these (the profile's 'dev' is dropped).
    first_driver = opts.index(["cd", str(RUN)])
    ours, driver = opts[:first_driver], opts[first_driver:]
    expected = [["cd", str(RUN)], ["dev", "orvpn7"], ["dev-type", "tun"], ["auth-retry", "interact"],
                ["verb", str(min(max(prof.verb, 3), 4))]]  # fmt: skip
    if prof.has_auth_user_pass:
        expected.append(["auth-nocache"])
    expected += [["management", SOCKET_FILE, "unix"], ["management-hold"],
                 ["management-query-passwords"]]  # fmt: skip
    assert driver == expected
    for opt in ours:
        name = opt[0]
        assert name in ALLOWED_OPTIONS, opt
        assert name not in pf.DANGEROUS and name not in FORBIDDEN, opt
        assert name not in ("dev", "dev-type", "verb"), opt
        assert len(opt) <= pf.MAX_PARAMS, opt  # openvpn takes 15 arguments at most
        if name == "script-security":
            assert opt[1] in ("0", "1"), opt
        if name in ("ca", "cert", "key", "tls-auth", "tls-crypt", "tls-crypt-v2", "secret",
                    "extra-certs", "pkcs12", "dh", "crl-verify"):  # fmt: skip
            assert Path(opt[1]).parent == RUN / "keys", opt  # only files of ours
        if name == "auth-user-pass":
            assert opt == ["auth-user-pass"], opt  # never a file
    if not prof.full_tunnel:
        assert ours[:3] == [
            ["route-nopull"],
            ["pull-filter", "ignore", "redirect-gateway"],
            ["pull-filter", "ignore", "redirect-private"],
        ]
        assert not [o for o in ours if o[0] in ("redirect-gateway", "redirect-private")]


def refused_or_safe(text: str, **kw: object) -> RasError | list[str]:
    try:
        return build(text, **kw)  # type: ignore[arg-type]
    except RasError as exc:
        assert exc.code in (pf.ERROR_PROFILE, pf.ERROR_NOT_ALLOWED, pf.ERROR_NO_CERT, 749), exc
        return exc


BASE = "client\ndev tun\nremote vpn.example.com 1194\nauth-user-pass\n"


# ------------------------------------------------------------------------------- the finding


def test_the_reported_attack_is_refused_and_could_not_work_anyway() -> None:
    """127 'é' + 'a' is 255 bytes (128 characters): openvpn reads 255 bytes, so '</ca>' on
    that line ended the block for openvpn but not for the old character-counting parser."""
    line = "é" * 127 + "a</ca>"
    assert len(line.encode()) > pf.MAX_LINE and len("é" * 127 + "a") == 128
    attack = BASE + "<ca>\n" + PEM + line + "\nplugin /home/user/evil.so\n" + '"<ca>"\n' + "</ca>\n"
    with pytest.raises(RasError) as info:
        build(attack)
    assert info.value.code == pf.ERROR_PROFILE
    assert "p.ovpn:9: line longer than 255 bytes" in str(info.value.detail)


def test_multibyte_lines_just_below_the_limit_stay_content() -> None:
    """254/255 bytes: one line for openvpn and for us; the content is a file, not options."""
    for body in ("é" * 127 + "a", "é" * 127, "€" * 85, "😀" * 63 + "abc"):
        assert len(body.encode()) <= 255
        argv = build(BASE + "<ca>\n" + body + "\nplugin /x.so\n</ca>\n")
        assert "--plugin" not in argv
    # '</ca>' mid-line does not end a block (openvpn looks at the start of the line only);
    # the whole block, 'plugin' line included, is the CA file's content.
    argv = build(BASE + "<ca>\nxx </ca>\nplugin /x.so\n</ca>\n")
    assert "--plugin" not in argv and "/x.so" not in argv


def test_quoted_tags_are_tags_as_for_openvpn() -> None:
    """openvpn unquotes before it looks for '<ca>': so do we; either way it is a file."""
    argv = build(BASE + '"<ca>"\n' + PEM + "</ca>\n")
    assert ["ca", str(RUN / "keys" / "ca.pem")] in split_argv(argv)
    argv = build(BASE + "'<cert>'\n" + PEM + "  </cert>\n")
    assert ["cert", str(RUN / "keys" / "cert.pem")] in split_argv(argv)


@pytest.mark.parametrize(
    "text",
    [
        BASE + "<ca>\n" + PEM + "</ca>\r\nplugin /x.so\r\n",  # CRLF: still a tag line
        BASE.replace("\n", "\r\n") + "up /x.sh\r\n",
        BASE + "remote h 1\rplugin /x.so\n",  # lone CR is a space: 'plugin' is an argument
        BASE + "\ufeffplugin /x.so\n",  # a BOM inside is part of the option name
        BASE + "\u00a0plugin /x.so\n",  # NBSP is not a space for openvpn
        BASE + "remote\u2003h\u20031\n",  # EM SPACE neither
        BASE + "<ca>\n" + PEM + "\u00a0</ca>\nplugin /x.so\n</ca>\n",
        BASE + "# <ca>\nplugin /x.so\n",  # a tag in a comment is a comment
        BASE + "; </ca>\nup /x\n",
        BASE + "remote --plugin /x.so\n",
        BASE + "remote h --up\n",
        BASE + "remote '--config' x\n",
        BASE + 'remote "--script-security" 2\n',
        BASE + "route-gateway --plugin\n",
        BASE + "--plugin /x.so\n",
        BASE + "verb 3 --up /x\n",
        BASE + "setenv-safe --up x\n",
        BASE + "pull-filter accept --plugin\n",
        BASE + "remote h 1 udp\n" * 50,  # options repeated
        BASE + "x" * 5000 + "\n",  # a very long line
        BASE + "remote " + "a" * 248 + "\n",
        BASE + "remote h\x00\nplugin /x.so\n",  # NUL
        BASE + "<connection>\nremote a\nup /x\n</connection>\n",
        BASE + "<connection>\nremote --up\n</connection>\n",
        BASE + "<tls-auth>\n" + "</tls-auth> up /x\nup /x\n</tls-auth>\n",
        BASE + "ignore-unknown-option plugin\nplugin /x.so\n",
        BASE + "script-security 2\n",
        BASE + "config /etc/x.conf\n",
        BASE + "<peer-fingerprint>\n--plugin\n</peer-fingerprint>\n",
        BASE + "remote h 1 udp a b c d e f g h i j k l m n o p q\n",  # 16+ tokens
    ],
)
def test_adversarial_profiles(text: str) -> None:
    result = refused_or_safe(text)  # checks every option of a built argv
    if isinstance(result, list):
        for bad in ("--plugin", "--up", "--config", "--script-security", "/x.so", "/x.sh"):
            assert bad not in result


def test_an_argument_starting_with_dashes_is_refused_naming_the_line() -> None:
    for text in (BASE + "remote --plugin /x.so\n", BASE + "remote h 1194 --up\n"):
        with pytest.raises(RasError) as info:
            build(text)
        assert info.value.code == pf.ERROR_NOT_ALLOWED
        assert "p.ovpn:5: argument '--" in str(info.value.detail)
        assert "openvpn would read it as an option" in str(info.value.detail)
    # A PhoneNumber cannot smuggle one in either.
    with pytest.raises(RasError):
        pf.parse_phone_number("--plugin")
    # A single '-' is an argument for openvpn (it only looks for '--'): kept as is.
    argv = build(BASE.replace("vpn.example.com", "-odd-host"))
    assert ["remote", "-odd-host", "1194"] in split_argv(argv)


def test_the_builder_checks_again_whatever_the_model_holds() -> None:
    """Even a model not made by sanitize cannot put an option into argv."""
    bad = pf.SanitizedProfile(options=[pf.Option("remote", ("h", "--plugin"), 3)])
    with pytest.raises(RasError) as info:
        build_argv(bad, RUN, "orvpn7")
    assert info.value.code == pf.ERROR_NOT_ALLOWED


def test_inline_content_never_becomes_argv() -> None:
    inline = "--plugin\n/x.so\n<cert>\nup /x\n"
    named = inline + "</cert>\nplugin /x.so\n"
    prof = pf.sanitize(
        pf.parse(BASE + "<ca>\n" + inline + "</ca>\n" + "cert c.crt\n", "p.ovpn"),
        source="p.ovpn",
        read_file=lambda p, n: named.encode(),
    )
    argv, files = build_argv(prof, RUN, "orvpn7")
    assert files == {
        RUN / "keys" / "ca.pem": inline.encode(),
        RUN / "keys" / "cert.pem": named.encode(),
    }
    assert "--plugin" not in argv and "--up" not in argv


def test_split_tunnel_profiles_keep_the_policy_options_first() -> None:
    argv = build(BASE + "route 10.0.0.0 255.0.0.0\npull-filter accept redirect-gateway\n",
                 grant=SPLIT)  # fmt: skip
    opts = split_argv(argv)
    assert opts.index(["pull-filter", "accept", "redirect-gateway"]) > 2  # ours match first


# ------------------------------------------------------------------------------- properties

_BAD_NAMES = ["plugin", "up", "config", "script-security", "<ca>", "</ca>", "<connection>",
              "</connection>", "redirect-gateway", "lport", "dev", "verb", "--plugin",
              "ignore-unknown-option", "--remote", '"<ca>"', "#", ";"]  # fmt: skip
#: Mostly allowed names (so that many profiles get as far as an argv), some hostile ones.
_NAMES = st.one_of(
    st.sampled_from(sorted(pf.ALLOWED)),
    st.sampled_from(["remote", "route", "ca", "client", "port", "proto", "pull-filter"]),
    st.sampled_from(_BAD_NAMES),
)
_ARGS = st.one_of(
    st.sampled_from(
        ["--plugin", "--up", "/x.so", "0.0.0.0", "128.0.0.0", "80", "2", "udp", "tun", "é" * 127,
         "a</ca>", '"', "'", "\\", "\r", "\t", "\u00a0", "\ufeff", "::/0", "<ca>", "</ca>"]
    ),
    st.text(max_size=12),
)  # fmt: skip
_LINE = st.builds(
    lambda n, a, sep: sep.join([n, *a]),
    _NAMES,
    st.lists(_ARGS, max_size=4),
    st.sampled_from([" ", "\t", "\r", " \u2003 "]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_LINE, max_size=8),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
    st.sampled_from([0, 1000]),
)
def test_option_soup_is_refused_or_safe(lines: list[str], nl: str, split: bool, uid: int) -> None:
    text = BASE + nl.join(lines) + nl
    refused_or_safe(text, uid=uid, grant=SPLIT if split else Grant())


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_any_text_is_refused_or_safe(text: str) -> None:
    refused_or_safe(BASE + text)


# ------------------------------------------------------------------------------- real openvpn


@pytest.mark.skipif(shutil.which("openvpn") is None, reason="openvpn is not installed")
@pytest.mark.parametrize(
    "text",
    [
        BASE + "<ca>\n" + PEM + "</ca>\nremote-cert-tls server\nverb 5\n",
        BASE + "<ca>\n" + PEM + "</ca>\nroute 10.9.0.0 255.255.0.0\nroute-ipv6 fd00::/8\n",
        "client\ndev tun\nauth-user-pass\nca c.crt\ntls-auth ta.key 1\n"
        "<connection>\nremote a.example 1194\nproto udp\nnobind\n</connection>\n"
        "<connection>\nremote b.example 443\nproto tcp-client\nnobind\n</connection>\n",
        BASE
        + "<peer-fingerprint>\n"
        + ":".join(["AB"] * 32)
        + "\n"
        + ":".join(["CD"] * 32)
        + "\n</peer-fingerprint>\nlport 40000\n",
    ],
    ids=["plain", "split-routes", "connections", "fingerprints"],
)
def test_real_openvpn_accepts_the_argv(text: str, tmp_path: Path) -> None:
    """openvpn parses and checks all its options (files included) before it waits for the
    management hold: reaching the socket means the argv was accepted (~10 ms)."""
    prof = pf.sanitize(
        pf.parse(text, "p.ovpn"), source="p.ovpn", read_file=lambda p, n: PEM,
        owner_uid=1000, grant=SPLIT,
    )  # fmt: skip
    program = shutil.which("openvpn")
    assert program is not None
    argv, files = build_argv(prof, tmp_path, "orvpn7", program)
    (tmp_path / "keys").mkdir()
    for path, data in files.items():
        path.write_bytes(data)
    proc = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            if (tmp_path / SOCKET_FILE).exists():
                break
            time.sleep(0.005)
        alive = proc.poll() is None
    finally:
        proc.kill()
        out = proc.communicate(timeout=10)[0].decode(errors="replace")
    assert alive and "Options error" not in out, out
    assert "Need hold release" in out or (tmp_path / SOCKET_FILE).exists(), out


_PLAIN_ARGS = st.lists(
    st.one_of(
        st.sampled_from(
            [
                "0.0.0.0",
                "10.0.0.0",
                "255.0.0.0",
                "128.0.0.0",
                "1194",
                "80",
                "udp",
                "tcp-client",
                "server",
                "1",
                "0",
                "none",
                "--up",
                "-x",
                "::/0",
                "fd00::/8",
                "é" * 20,
                "a#b",
                "net_gateway",
            ]
        ),
        st.text(
            st.characters(min_codepoint=0x21, max_codepoint=0x2FF, exclude_characters="\"'\\#;"),
            min_size=1,
            max_size=8,
        ),
    ),
    max_size=3,
)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(sorted(pf.ALLOWED)), _PLAIN_ARGS), max_size=10),
    st.booleans(),
    st.sampled_from([0, 1000]),
)
def test_well_formed_soup_builds_only_allowed_argv(
    lines: list[tuple[str, list[str]]], split: bool, uid: int
) -> None:
    """Well-formed lines of allowed options with hostile values (many reach an argv)."""
    text = BASE + "".join(" ".join([n, *a]) + "\n" for n, a in lines)
    refused_or_safe(text, uid=uid, grant=SPLIT if split else Grant())
