"""Importing a provider's .ovpn or a wg-quick .conf: a checked, self-contained copy."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from openras import importer
from openras.links.openvpn import profile as pf

CA = "-----BEGIN CERTIFICATE-----\nMIIBbzCCARWgAwIBAgIUUEpTucTJb3mckPzCu\n-----END CERTIFICATE-----\n"
TA = (
    "-----BEGIN OpenVPN Static key V1-----\n0123456789abcdef\n-----END OpenVPN Static key V1-----\n"
)

PROVIDER = """\
client
dev tun
remote nl1.provider.example 1194
persist-key
setenv CLIENT_CERT 0
script-security 2
up /etc/openvpn/update-resolv-conf
down /etc/openvpn/update-resolv-conf
block-outside-dns
remote-cert-tls server
auth-user-pass creds.txt
ca ca.crt
tls-auth ta.key 1
"""


@pytest.fixture
def download(tmp_path: Path) -> Path:
    d = tmp_path / "dl"
    d.mkdir()
    (d / "ca.crt").write_text(CA)
    (d / "ta.key").write_text(TA)
    (d / "provider-nl.ovpn").write_text(PROVIDER)
    return d


def test_a_provider_profile_becomes_a_self_contained_checked_copy(download: Path, tmp_path: Path):
    imp = importer.prepare(download / "provider-nl.ovpn", None, tmp_path / "cfg")
    assert (imp.name, imp.device, imp.copy) == (
        "provider-nl",
        "openvpn",
        tmp_path / "cfg" / "provider-nl.ovpn",
    )
    text = imp.data.decode()
    assert (
        "<ca>\n" + CA + "</ca>" in text
        and "<tls-auth>\n" + TA + "</tls-auth>\nkey-direction 1" in text
    )
    assert "# dropped by openras import" in text and "\nsetenv" not in text and "\nup " not in text
    assert "\nauth-user-pass\n" in text and "persist-key" in text
    assert any("creds set" in n for n in imp.notes) and any("setenv" in n for n in imp.notes)
    # the copy is what the dial will accept: nothing left to refuse, no file left to read
    assert pf.problems(pf.parse(text, "copy"), source="copy", read_file=_no_files) == []
    importer.write_copy(imp)
    assert stat.S_IMODE(imp.copy.stat().st_mode) == 0o600
    with pytest.raises(importer.ImportRefused):
        importer.write_copy(imp)  # never overwritten silently
    assert (download / "provider-nl.ovpn").read_text() == PROVIDER  # the original unchanged


def _no_files(path: str, line: int) -> bytes:
    raise AssertionError(f"the copy still names {path} (line {line})")


def test_every_problem_is_listed_at_once_with_hints(download: Path, tmp_path: Path):
    bad = download / "old.ovpn"
    bad.write_text(
        "client\ndev tap\nremote a.example 1194\nns-cert-type server\nplugin /x.so\n"
        "ca missing.crt\n"
    )
    with pytest.raises(importer.ImportRefused) as info:
        importer.prepare(bad, "Old", tmp_path)
    problems = info.value.problems
    assert any("missing.crt" in p for p in problems)
    # the file problem is reported alone first; fixed, the rest come all at once
    (download / "missing.crt").write_text(CA)
    with pytest.raises(importer.ImportRefused) as info:
        importer.prepare(bad, "Old", tmp_path)
    problems = info.value.problems
    assert len(problems) == 2, problems
    assert "ns-cert-type" in problems[0] and "remote-cert-tls server" in problems[0]
    assert "'plugin' is not allowed" in problems[1]


def test_a_wg_quick_config_is_checked_as_the_driver_checks_it(tmp_path: Path):
    conf = tmp_path / "lab.conf"
    conf.write_text(
        "[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\n"
        "Address = 10.9.0.2/24\nPostUp = iptables -A FORWARD\n\n[Peer]\n"
        "PublicKey = xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=\n"
        "Endpoint = 127.0.0.1:51820\nAllowedIPs = 10.9.0.0/24\n"
    )
    with pytest.raises(importer.ImportRefused) as info:
        importer.prepare(conf, None, tmp_path / "cfg")
    assert "PostUp" in info.value.problems[0]
    conf.write_text(conf.read_text().replace("PostUp = iptables -A FORWARD\n", ""))
    imp = importer.prepare(conf, None, tmp_path / "cfg")
    assert (imp.name, imp.device, imp.data) == ("lab", "wireguard", conf.read_bytes())


def test_other_files_are_not_imported_this_way(tmp_path: Path):
    assert importer.kind_of(tmp_path / "x.pbk") is None
    with pytest.raises(importer.ImportRefused):
        importer.prepare(tmp_path / "x.txt", None, tmp_path)
