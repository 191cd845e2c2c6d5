"""Regenerate the phonebook corpus: ``python tests/unit/pbk_corpus/_generate.py``.

The files imitate Windows 10 exports (key lists from ras-api.md section 7.3) plus awkward
hand-edited cases. They are checked in; this script only documents how they were made.
``manifest.json`` records what the tests expect to read back from each file.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent

MAIN_KEYS = """Encoding=1
PBVersion=4
Type={type}
AutoLogon=0
UseRasCredentials=1
LowDateTime=-1526626736
HighDateTime=31039823
DialParamsUID=1234567
Guid={guid}
VpnStrategy={strategy}
ExcludedProtocols=8
LcpExtensions=1
DataEncryption=256
SwCompression=0
NegotiateMultilinkAlways=0
SkipDoubleDialDialog=0
DialMode=0
OverridePref=15
RedialAttempts=3
RedialSeconds=60
IdleDisconnectSeconds=0
RedialOnLinkFailure=1
CallbackMode=0
CustomDialDll=
CustomDialFunc=
CustomRasDialDll=
ForceSecureCompartment=0
DisableIKENameEkuCheck=0
AuthenticateServer=0
ShareMsFilePrint=1
BindMsNetClient=1
SharedPhoneNumbers=0
GlobalDeviceSettings=0
PrerequisiteEntry=
PrerequisitePbk=
PreferredPort={port}
PreferredDevice={device}
PreferredBps=0
PreferredHwFlow=1
PreferredProtocol=1
PreferredCompression=1
PreferredSpeaker=1
PreferredMdmProtocol=0
PreviewUserPw=1
PreviewDomain=1
PreviewPhoneNumber=0
ShowDialingProgress=1
ShowMonitorIconInTaskBar=1
CustomAuthKey=0
AuthRestrictions=544
IpPrioritizeRemote=1
IpInterfaceMetric=0
IpHeaderCompression=0
IpAddress=0.0.0.0
IpDnsAddress=0.0.0.0
IpDns2Address=0.0.0.0
IpWinsAddress=0.0.0.0
IpWins2Address=0.0.0.0
IpAssign=1
IpNameAssign=1
IpDnsFlags=0
IpNBTFlags=1
TcpWindowSize=0
UseFlags=2
IpSecFlags=0
IpDnsSuffix=
Ipv6Assign=1
Ipv6Address=::
Ipv6PrefixLength=0
Ipv6PrioritizeRemote=1
Ipv6InterfaceMetric=0
Ipv6NameAssign=1
Ipv6DnsAddress=::
Ipv6Dns2Address=::
Ipv6Prefix=0000000000000000
Ipv6InterfaceId=0000000000000000
DisableClassBasedDefaultRoute=0
DisableMobility=0
NetworkOutageTime=1800
IDI=
IDR=
ImsConfig=0
IdiType=0
IdrType=0
ProvisionType=0
PreSharedKey=
CacheCredentials=1
NumCustomPolicy=0
NumEku=0
UseMachineRootCert=0
Disable_IKEv2_Fragmentation=0
NumServers=0
RouteVersion=1
NumRoutes=0
NumNrptRules=0
AutoTiggerCapable=0
NumAppIds=0
NumClassicAppIds=0
SecurityDescriptor=
ApnInfoProviderId=
ApnInfoUsername=
ApnInfoPassword=
ApnInfoAccessPoint=
ApnInfoAuthentication=1
ApnInfoCompression=0
DeviceComplianceEnabled=0
DeviceComplianceSsoEnabled=0
DeviceComplianceSsoEku=
DeviceComplianceSsoIssuer=
FlagsSet=0
Options=0
DisableDefaultDnsSuffixes=0
NumTrustedNetworks=0
NumDnsSearchSuffixes=0
PowershellCreatedProfile=0
ProxyFlags=0
ProxySettingsModified=0
ProvisioningAuthority=
AuthTypeOTP=0
GREKeyDefined=0
NumPerAppTrafficFilters=0
AlwaysOnCapable=0
DeviceTunnel=0
PrivateNetwork=0
"""

TAIL = """
NETCOMPONENTS=
ms_msclient=1
ms_server=1

MEDIA=rastapi
Port={port}
Device={device}

DEVICE={devtype}
PhoneNumber={phone}
AreaCode=
CountryCode=0
CountryID=0
UseDialingRules=0
Comment=
FriendlyName=
LastSelectedPhone=0
PromoteAlternates=0
TryNextAlternateOnFail=1

"""


def entry(name: str, **kw: str) -> str:
    kw.setdefault("type", "2")
    kw.setdefault("devtype", "vpn")
    return f"[{name}]\n" + MAIN_KEYS.format(**kw) + TAIL.format(**kw)


VPNS = {
    "IKEv2 Office": dict(
        guid="5B6C2E4F1A2B4C3D8E9F0A1B2C3D4E5F",
        strategy="7",
        port="VPN2-0",
        device="WAN Miniport (IKEv2)",
        phone="vpn.example.com",
    ),
    "L2TP Lab": dict(
        guid="0A1B2C3D4E5F60718293A4B5C6D7E8F9",
        strategy="3",
        port="VPN3-0",
        device="WAN Miniport (L2TP)",
        phone="203.0.113.7",
    ),
    "PPTP Legacy": dict(
        guid="FFEEDDCCBBAA99887766554433221100",
        strategy="1",
        port="VPN4-0",
        device="WAN Miniport (PPTP)",
        phone="pptp.example.net",
    ),
    "SSTP Home": dict(
        guid="11112222333344445555666677778888",
        strategy="5",
        port="VPN1-0",
        device="WAN Miniport (SSTP)",
        phone="sstp.example.org",
    ),
}
PPPOE = dict(
    type="5",
    devtype="PPPoE",
    guid="ABCDEFABCDEFABCDEFABCDEFABCDEF01",
    strategy="0",
    port="PPPoE11-0",
    device="WAN Miniport (PPPOE)",
    phone="ISP-Service",
)
MODEM = dict(
    type="1",
    devtype="modem",
    guid="0123456789ABCDEF0123456789ABCDEF",
    strategy="0",
    port="COM3",
    device="Standard 56000 bps Modem",
    phone="5551234",
)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("utf-8")


def main() -> None:
    files: dict[str, bytes] = {}
    manifest: dict[str, dict[str, object]] = {}

    def add(
        fname: str,
        data: bytes,
        props: dict[str, dict[str, object]],
        names: list[str] | None = None,
    ) -> None:
        files[fname] = data
        manifest[fname] = {"entries": names or list(props), "props": props}

    def vpn_props(name: str, kw: dict[str, str], devtype: str = "vpn") -> dict[str, object]:
        return {
            "phone_number": kw["phone"],
            "device_type": devtype,
            "device_name": kw["device"],
            "vpn_strategy": int(kw["strategy"]),
            "guid": kw["guid"],
        }

    for fname, name in [
        ("ikev2.pbk", "IKEv2 Office"),
        ("l2tp.pbk", "L2TP Lab"),
        ("pptp.pbk", "PPTP Legacy"),
        ("sstp.pbk", "SSTP Home"),
    ]:
        add(fname, crlf(entry(name, **VPNS[name])), {name: vpn_props(name, VPNS[name])})
    add("pppoe.pbk", crlf(entry("DSL", **PPPOE)), {"DSL": vpn_props("DSL", PPPOE, "pppoe")})
    modem = entry("Dial-up ISP", **MODEM).replace(
        "TryNextAlternateOnFail=1\n",
        "TryNextAlternateOnFail=1\n\nDEVICE=modem\nPhoneNumber=5559876\nAreaCode=\n",
    )
    add("modem.pbk", crlf(modem), {"Dial-up ISP": vpn_props("Dial-up ISP", MODEM, "modem")})

    allvpn = "".join(entry(n, **kw) for n, kw in VPNS.items())
    add("export_all.pbk", crlf(allvpn), {n: vpn_props(n, kw) for n, kw in VPNS.items()})

    minimal = (
        "[Minimal]\nMEDIA=rastapi\nPort=VPN2-0\nDevice=WAN Miniport (IKEv2)\n"
        "DEVICE=vpn\nPhoneNumber=min.example.com\n"
    )
    add(
        "minimal.pbk",
        crlf(minimal),
        {
            "Minimal": {
                "phone_number": "min.example.com",
                "device_type": "vpn",
                "device_name": "WAN Miniport (IKEv2)",
                "vpn_strategy": 0,
                "guid": None,
            }
        },
    )

    dup = crlf(minimal + "\n" + minimal.replace("min.example", "second.example"))
    add(
        "duplicate_sections.pbk",
        dup,
        {"Minimal": {"phone_number": "min.example.com"}},
        names=["Minimal", "Minimal"],
    )

    empty = (
        "[Empty Values]\nType=\nVpnStrategy=\nGuid=\n\nMEDIA=\nDevice=\n\nDEVICE=\nPhoneNumber=\n"
    )
    add(
        "empty_values.pbk",
        crlf(empty),
        {
            "Empty Values": {
                "phone_number": "",
                "device_type": None,
                "device_name": "",
                "vpn_strategy": 0,
                "guid": "",
            }
        },
    )

    long_value = "x" * 20000
    add(
        "long_lines.pbk",
        crlf(f"[Long]\nComment={long_value}\nType=2\n\nDEVICE=vpn\nPhoneNumber={'h' * 5000}\n"),
        {"Long": {"phone_number": "h" * 5000, "device_type": "vpn"}},
    )

    mixed = b"[Mixed]\r\nType=2\nVpnStrategy=7\r\n\nMEDIA=rastapi\r\nDevice=WAN Miniport (IKEv2)\n"
    mixed += b"DEVICE=vpn\r\nPhoneNumber=mixed.example.com\n"
    add(
        "mixed_eol.pbk",
        mixed,
        {"Mixed": {"phone_number": "mixed.example.com", "vpn_strategy": 7}},
    )

    add(
        "bom.pbk",
        b"\xef\xbb\xbf" + crlf(entry("Büro VPN ✓", **VPNS["IKEv2 Office"])),
        {"Büro VPN ✓": vpn_props("Büro VPN ✓", VPNS["IKEv2 Office"])},
    )

    case = (
        "[Case Study]\nTYPE=2\nvpnstrategy=3\nguid=00000000000000000000000000000001\n\n"
        "media=rastapi\nport=VPN3-0\ndevice=WAN Miniport (L2TP)\n\n"
        "DEVICE=vpn\nphonenumber=case.example.com\n"
    )
    add(
        "key_case.pbk",
        crlf(case),
        {
            "Case Study": {
                "phone_number": "case.example.com",
                "device_type": "vpn",
                "device_name": "WAN Miniport (L2TP)",
                "vpn_strategy": 3,
                "guid": "00000000000000000000000000000001",
            }
        },
    )

    ansi = (
        "[Büro Zürich]\r\nType=2\r\nComment=Café \x96 naïve \x80 \x81\r\n\r\n"
        "DEVICE=vpn\r\nPhoneNumber=zürich.example.ch\r\n"
    )
    add(
        "cp1252.pbk",
        ansi.encode("latin-1"),
        {"Büro Zürich": {"phone_number": "zürich.example.ch", "device_type": "vpn"}},
    )

    add(
        "no_trailing_newline.pbk",
        b"[NoEOL]\r\nType=2\r\n\r\nDEVICE=vpn\r\nPhoneNumber=noeol.example.com",
        {"NoEOL": {"phone_number": "noeol.example.com", "device_type": "vpn"}},
    )

    comments = (
        "; Phonebook exported by hand\n# second comment style\n\n"
        "  [Indented]  \n  Type = 2  \n; comment inside\nVpnStrategy\t=\t7\n\n"
        "  MEDIA=rastapi\n    Device=WAN Miniport (IKEv2)\n\n"
        "DEVICE=vpn\n  PhoneNumber = ind.example.com \n"
        "# trailing comment\n"
    )
    add(
        "comments.pbk",
        comments.encode(),
        {
            "Indented": {
                "phone_number": "ind.example.com",
                "device_type": "vpn",
                "device_name": "WAN Miniport (IKEv2)",
                "vpn_strategy": 7,
            }
        },
    )

    multilink = (
        "[Multilink ISDN]\nType=1\nDialMode=1\n\nMEDIA=rastapi\nPort=ISDN1-0\nDevice=ISDN A\n\n"
        "DEVICE=isdn\nPhoneNumber=111\n\nMEDIA=rastapi\nPort=ISDN1-1\nDevice=ISDN B\n\n"
        "DEVICE=isdn\nPhoneNumber=222\n"
    )
    add(
        "multilink.pbk",
        crlf(multilink),
        {"Multilink ISDN": {"phone_number": "111", "device_type": "isdn", "device_name": "ISDN A"}},
    )

    ext = (
        "[WireGuard Home]\nType=2\nOpenRasDevice=wireguard\nOpenRasWgPeer=abc=\n"
        "UnknownFutureKey=42\n\nMEDIA=rastapi\nDevice=OpenRas WireGuard\n\n"
        "DEVICE=vpn\nPhoneNumber=wg.example.com:51820\n"
    )
    add(
        "extensions.pbk",
        crlf(ext),
        {"WireGuard Home": {"phone_number": "wg.example.com:51820", "device_type": "vpn"}},
    )

    add(
        "utf16.pbk",
        b"\xff\xfe" + minimal.replace("\n", "\r\n").encode("utf-16-le"),
        {"Minimal": {"phone_number": "min.example.com", "device_type": "vpn"}},
    )

    for name, data in files.items():
        (HERE / name).write_bytes(data)
    (HERE / "manifest.json").write_text(
        json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8"
    )


if __name__ == "__main__":
    main()
