"""The SSH driver's refusals and host key policy (pure: settings and argv, no ssh run)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pytest

from openras.errors import RasError
from openras.links._owner_files import owner_config_dir
from openras.links.base import DialParams, LinkSpec
from openras.links.ssh import driver as ssh_driver
from openras.links.ssh.driver import (
    SYSTEM_KNOWN_HOSTS_DIR,
    SshLink,
    _read_known_hosts,
    _Settings,
    build_argv,
)
from openras.policy import Grant

USER = 1000
SPLIT = Grant(full_tunnel=False, full_tunnel_rule="policy.conf:4: full-tunnel = no")
ADMIN = Grant(full_tunnel=True, full_tunnel_rule="all-users entry", admin_credentials=True)


class Entry:
    def __init__(self, name: str, values: Mapping[str, str]) -> None:
        self._name = name
        self._values = {k.lower(): v for k, v in values.items()}

    @property
    def name(self) -> str:
        return self._name

    def get(self, key: str, default: str | None = None) -> str | None:
        return self._values.get(key.lower(), default)


def spec(
    tmp: Path,
    values: Mapping[str, str],
    *,
    owner: int = USER,
    grant: Grant | None = None,
    phone: str = "",
    name: str = "Office VPN",
) -> LinkSpec:
    entry = {"OpenRasDevice": "ssh", "PhoneNumber": "alice@192.0.2.7:2222", **values}
    return LinkSpec(
        handle=7,
        owner_uid=owner,
        entry=Entry(name, entry),
        params=DialParams(entry_name=name, phone_number=phone),
        run_dir=tmp / "run",
        marker="test",
        phonebook=tmp / "rasphone.pbk",
        grant=grant or Grant(),
    )


# -- privileged ports --------------------------------------------------------------------------


@pytest.mark.parametrize("port", ["1", "22", "80", "1023"])
def test_a_users_privileged_socks_port_is_refused_with_5(tmp_path: Path, port: str) -> None:
    with pytest.raises(RasError) as info:
        _Settings.from_spec(spec(tmp_path, {"OpenRasSshSocksPort": port}))
    assert info.value.code == 5
    assert f"OpenRasSshSocksPort={port}" in info.value.detail
    assert "privileged" in info.value.detail
    assert _Settings.from_spec(spec(tmp_path, {"OpenRasSshSocksPort": port}, owner=0))


def test_an_unprivileged_socks_port_is_fine(tmp_path: Path) -> None:
    settings = _Settings.from_spec(spec(tmp_path, {"OpenRasSshSocksPort": "1024"}))
    assert settings.socks_port == 1024


# -- full tunnel ---------------------------------------------------------------------------------


def tun(routes: str, local: str = "10.0.6.2/30") -> dict[str, str]:
    return {"OpenRasSshMode": "tun", "OpenRasSshTunLocal": local, "OpenRasSshTunRoutes": routes}


@pytest.mark.parametrize(
    ("routes", "local"),
    [
        ("0.0.0.0/0", "10.0.6.2/30"),
        ("10.1.0.0/16, ::/0", "10.0.6.2/30"),
        ("0.0.0.0/1, 128.0.0.0/1", "10.0.6.2/30"),
        ("", "10.0.6.2/1"),  # the tunnel address's own network is routed too
        ("8000::/1", "fd00::2/1"),
    ],
)
def test_without_full_tunnel_tun_routes_that_take_everything_are_refused(
    tmp_path: Path, routes: str, local: str
) -> None:
    with pytest.raises(RasError) as info:
        _Settings.from_spec(spec(tmp_path, tun(routes, local), grant=SPLIT))
    assert info.value.code == 5
    assert "policy.conf:4: full-tunnel = no" in info.value.detail
    assert _Settings.from_spec(spec(tmp_path, tun(routes, local)))  # a full tunnel is granted


def test_without_full_tunnel_a_split_tun_is_fine(tmp_path: Path) -> None:
    settings = _Settings.from_spec(
        spec(tmp_path, tun("10.1.0.0/16, 192.168.0.0/16, fd00::/8"), grant=SPLIT)
    )
    assert len(settings.tun_routes) == 3
    # SOCKS mode routes nothing: no full tunnel to refuse.
    assert _Settings.from_spec(spec(tmp_path, {}, grant=SPLIT)).mode == "socks"


# -- the administrator's credentials: the administrator's host keys only -----------------------


def test_own_credentials_use_the_callers_known_hosts(tmp_path: Path) -> None:
    settings = _Settings.from_spec(spec(tmp_path, {"OpenRasSshAcceptNewHostKey": "1"}))
    assert settings.known_hosts == owner_config_dir(USER) / "openras/known_hosts/Office_VPN"
    assert not settings.admin_known_hosts
    assert settings.accept_new


def test_admin_credentials_use_the_system_known_hosts_strictly(tmp_path: Path) -> None:
    settings = _Settings.from_spec(spec(tmp_path, {"OpenRasSshAcceptNewHostKey": "1"}, grant=ADMIN))
    assert settings.known_hosts == SYSTEM_KNOWN_HOSTS_DIR / "Office_VPN"
    assert settings.admin_known_hosts  # the administrator's file, read as root
    assert not settings.accept_new  # nothing is learned, nothing trusted on first use
    argv = build_argv(settings, tmp_path, password=True, tun_unit=None)
    assert "StrictHostKeyChecking=yes" in argv
    assert "GlobalKnownHostsFile=/dev/null" in argv
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in argv


def test_admin_credentials_use_the_entrys_known_hosts_read_as_root(tmp_path: Path) -> None:
    kh = tmp_path / "admin_known_hosts"
    settings = _Settings.from_spec(spec(tmp_path, {"OpenRasSshKnownHosts": str(kh)}, grant=ADMIN))
    assert settings.known_hosts == kh
    assert settings.admin_known_hosts


@pytest.mark.skipif(os.geteuid() != 0, reason="reads as root")
def test_admin_credentials_without_an_admin_known_hosts_are_refused(tmp_path: Path) -> None:
    kh = tmp_path / "admin_known_hosts"
    s = spec(tmp_path, {"OpenRasSshKnownHosts": str(kh)}, grant=ADMIN)
    with pytest.raises(RasError) as info:
        SshLink.validate(s)
    assert info.value.code == 778
    assert "cannot be verified" in info.value.detail
    kh.write_text("")  # empty is no better than missing
    with pytest.raises(RasError, match="cannot be verified"):
        _read_known_hosts(_Settings.from_spec(s), USER)
    kh.write_text("[192.0.2.7]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA==\n")
    assert _read_known_hosts(_Settings.from_spec(s), USER) == kh.read_bytes()


def test_admin_credentials_never_read_or_write_the_callers_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when the caller's own known_hosts for the entry exists, with the administrator's
    credentials the driver reads the administrator's path only, as root."""
    reads: list[tuple[Path, int]] = []

    def fake_read(path: Path, uid: int, **_: object) -> bytes | None:
        reads.append((path, uid))
        return b"host key\n"

    monkeypatch.setattr(ssh_driver, "read_owner_file_if_exists", fake_read)
    settings = _Settings.from_spec(spec(tmp_path, {}, grant=ADMIN))
    _read_known_hosts(settings, USER)
    assert reads == [(SYSTEM_KNOWN_HOSTS_DIR / "Office_VPN", 0)]


def test_admin_credentials_go_to_the_entrys_own_number_only(tmp_path: Path) -> None:
    with pytest.raises(RasError) as info:
        _Settings.from_spec(spec(tmp_path, {}, grant=ADMIN, phone="alice@198.51.100.9"))
    assert info.value.code == 5
    same = _Settings.from_spec(spec(tmp_path, {}, grant=ADMIN, phone="alice@192.0.2.7:2222"))
    assert same.host == "192.0.2.7"
    assert same.port == 2222
    # With the caller's own credentials any number may be dialed.
    assert _Settings.from_spec(spec(tmp_path, {}, phone="bob@198.51.100.9")).host == "198.51.100.9"
