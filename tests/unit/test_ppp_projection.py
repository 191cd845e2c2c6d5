"""A PPP link's projection in Windows' shapes: RAS_PROJECTION_INFO with RASPPP_PROJECTION_INFO
(type PPP, as Windows reports its own PPP links) and RASPPPLCP, from the daemon's wire dict."""

from __future__ import annotations

from typing import Any

import pytest

from openras import rasapi as r


def _wire(auth: str = "MS-CHAPv2", compression: str = "", framing: str = "PPP") -> dict[str, Any]:
    extra = {"framing": framing, "kind": "modem", "auth_protocol": auth, "device": "/dev/pts/3"}
    if compression:
        extra["compression"] = compression
    return {
        "interface": "orppp7",
        "local_address": "10.236.44.2",
        "remote_address": "10.236.44.1",
        "dns": ["10.236.44.53"],
        "extra": extra,
    }


@pytest.fixture
def projection(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What the daemon answers for handle 7 (the test sets it)."""
    answer: dict[str, Any] = {}
    monkeypatch.setattr(r, "_projection", lambda h: (0, answer) if h == 7 else (6, None))
    return answer


@pytest.mark.parametrize(
    ("auth", "protocol", "data"),
    [
        ("PAP", r.RASLCPAP_PAP, 0),
        ("CHAP", r.RASLCPAP_CHAP, r.RASLCPAD_CHAP_MD5),
        ("MS-CHAP", r.RASLCPAP_CHAP, r.RASLCPAD_CHAP_MS),
        ("MS-CHAPv2", r.RASLCPAP_CHAP, r.RASLCPAD_CHAP_MSV2),
        ("EAP", r.RASLCPAP_EAP, 0),
        ("", 0, 0),
    ],
)
def test_a_ppp_link_is_projection_info_type_ppp(
    projection: dict[str, Any], auth: str, protocol: int, data: int
) -> None:
    projection.update(_wire(auth))
    code, info = r.RasGetProjectionInfoEx(7)
    assert code == 0 and info is not None
    assert (info.version, info.type, info.ikev2) == (4, r.PROJECTION_INFO_TYPE_PPP, None)
    ppp = info.ppp
    assert ppp is not None
    assert (ppp.ipv4Address, ppp.ipv4ServerAddress) == ("10.236.44.2", "10.236.44.1")
    assert ppp.dwIPv4NegotiationError == 0
    assert ppp.dwIPv6NegotiationError == r.ERROR_PROTOCOL_NOT_CONFIGURED  # pppd runs noipv6
    assert (ppp.dwAuthenticationProtocol, ppp.dwAuthenticationData) == (protocol, data)
    assert (ppp.dwServerAuthenticationProtocol, ppp.dwCcpCompressionAlgorithm) == (0, 0)
    code, lcp = r.RasGetProjectionInfo(7, r.RASP_PppLcp)
    assert code == 0 and isinstance(lcp, r.RASPPPLCP)
    assert (lcp.dwAuthenticationProtocol, lcp.dwAuthenticationData) == (protocol, data)


def test_mppe_is_ccps_mppc_encryption(projection: dict[str, Any]) -> None:
    projection.update(_wire(compression="MPPE 128-bit stateless"))
    code, info = r.RasGetProjectionInfoEx(7)
    assert code == 0 and info is not None and info.ppp is not None
    assert info.ppp.dwCcpCompressionAlgorithm == r.RASCCPCA_MPPC
    assert info.ppp.dwCcpOptions == r.RASCCPO_Encryption128bit | r.RASCCPO_HistoryLess
    projection.update(_wire(compression="Deflate (15)"))  # not a Windows CCP algorithm
    info = r.RasGetProjectionInfoEx(7)[1]
    assert info is not None and info.ppp is not None
    assert (info.ppp.dwCcpCompressionAlgorithm, info.ppp.dwCcpOptions) == (0, 0)


def test_a_link_without_ppp_stays_ikev2_shaped(projection: dict[str, Any]) -> None:
    projection.update(_wire(framing=""))
    code, info = r.RasGetProjectionInfoEx(7)
    assert code == 0 and info is not None
    assert (info.type, info.ppp) == (r.PROJECTION_INFO_TYPE_IKEv2, None)
    assert info.ikev2 is not None and info.ikev2.ipv4Address == "10.236.44.2"
    assert r.RasGetProjectionInfo(7, r.RASP_PppLcp) == (r.ERROR_PROTOCOL_NOT_CONFIGURED, None)
