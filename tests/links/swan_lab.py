"""A Windows-style IKEv2 responder for tests: strongSwan's charon in namespace A.

The server authenticates with a certificate from a test CA (made with strongSwan's ``pki``)
and its users with EAP-MSCHAPv2, hands out virtual IPs from a pool and a DNS server, and
offers everything (``0.0.0.0/0``), as a company's IKEv2 gateway does for Windows clients.
A ``/32`` on A's loopback stands in for the inside network. charon runs in a mount
namespace of its own with a private ``/run`` (its pid file is compiled in), exactly as
openras runs its own, so a responder and a client charon never meet.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from netns import NetnsLab, NsPair, wait_until

USER = "alice"
#: A second user (the pool gives one address per identity).
USER2 = "bob"
PASSWORD = "correct horse battery"
PSK = "lab-only-preshared-key-0123456789"
CHARON = "/usr/lib/ipsec/charon"
PLUGINS = (
    "random nonce openssl aes sha1 sha2 hmac kdf gmp pem pkcs1 pkcs8 x509 pubkey constraints "
    "eap-identity eap-mschapv2 kernel-libipsec kernel-netlink socket-default vici"
)
#: A responder on the kernel's ESP (where the kernel has it: the VM tier).
KERNEL_PLUGINS = PLUGINS.replace("kernel-libipsec ", "")


def _pki(*args: str, stdin: bytes | None = None) -> bytes:
    res = subprocess.run(["pki", *args], input=stdin, capture_output=True, timeout=30, check=True)
    return res.stdout


#: A Windows-style L2TP/IPsec responder's connection (``SwanServer``'s ``extra_conf``): IKEv1, PSK, transport mode for UDP 1701.
L2TP_RESPONDER = """
connections {
  l2tp { version = 1
    proposals = aes256-sha256-modp2048,aes256-sha1-modp1024,aes128-sha1-modp1024
    local { auth = psk }
    remote { auth = psk }
    children { l2tp { mode = transport
      local_ts = dynamic[udp/1701]
      remote_ts = dynamic[udp]
      esp_proposals = aes256-sha1,aes128-sha1 } } }
}
"""


def l2tp_cert_responder(addr: str) -> str:
    """The certificate half of a Windows-style L2TP/IPsec responder (``extra_conf`` beside
    :data:`L2TP_RESPONDER`: IKEv1 picks it by the proposal's authentication method): the
    server's certificate (``server.crt``, naming ``addr``) and ID ``addr``; a client's
    certificate accepted only from the lab's CA."""
    return f"""
connections {{
  l2tp-cert {{ version = 1
    local_addrs = {addr}
    proposals = aes256-sha256-modp2048,aes256-sha1-modp1024,aes128-sha1-modp1024
    local {{ auth = pubkey
      certs = server.crt
      id = {addr} }}
    remote {{ auth = pubkey }}
    children {{ l2tp {{ mode = transport
      local_ts = dynamic[udp/1701]
      remote_ts = dynamic[udp]
      esp_proposals = aes256-sha1,aes128-sha1 }} }} }}
}}
"""


def make_ca(d: Path, name: str = "openras test CA") -> tuple[Path, Path]:
    """(CA certificate, CA key) in ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    key = d / "ca.key"
    key.write_bytes(_pki("--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem"))
    cert = d / "ca.crt"
    cert.write_bytes(
        _pki("--self", "--ca", "--lifetime", "30", "--in", str(key), "--type", "ecdsa",
             "--dn", f"CN={name}", "--outform", "pem")
    )  # fmt: skip
    return cert, key


def issue(
    d: Path, ca: tuple[Path, Path], cn: str, sans: list[str], *, server: bool
) -> tuple[Path, Path]:
    """(certificate, key) for ``cn`` signed by ``ca``."""
    key = d / f"{cn}.key"
    key.write_bytes(_pki("--gen", "--type", "ecdsa", "--size", "256", "--outform", "pem"))
    pub = _pki("--pub", "--in", str(key), "--type", "ecdsa")
    args = ["--issue", "--lifetime", "30", "--cacert", str(ca[0]), "--cakey", str(ca[1]),
            "--dn", f"CN={cn}", "--outform", "pem"]  # fmt: skip
    for san in sans:
        args += ["--san", san]
    args += (
        ["--flag", "serverAuth", "--flag", "ikeIntermediate"]
        if server
        else ["--flag", "clientAuth"]
    )
    cert = d / f"{cn}.crt"
    cert.write_bytes(_pki(*args, stdin=pub))
    return cert, key


@dataclass
class SwanServer:
    """charon as the responder in ``pair.a``."""

    pair: NsPair
    workdir: Path
    pool: str
    inside: str
    dns: str = "10.97.5.53"
    proc: subprocess.Popen[bytes] | None = None
    ca: tuple[Path, Path] | None = None
    extra_conf: list[str] = field(default_factory=list)
    plugins: str = PLUGINS

    @property
    def vici(self) -> Path:
        return self.workdir / "charon.vici"

    @property
    def log(self) -> Path:
        return self.workdir / "charon.log"

    def _write_conf(self) -> None:
        w = self.workdir
        (w / "run").mkdir(exist_ok=True)
        (w / "strongswan.conf").write_text(
            "charon {\n  load_modular = no\n"
            f"  load = {self.plugins}\n"
            "  plugins { vici { socket = unix://" + str(self.vici) + " }\n"
            "            openssl { load_legacy = yes } }\n"
            "  filelog { lab { path = " + str(self.log) + "\n"
            "    time_format = %H:%M:%S\n    default = 1\n    flush_line = yes } }\n"
            "  syslog { daemon { default = -1 } }\n}\n"
        )
        for sub in ("x509", "ecdsa", "x509ca"):
            (w / sub).mkdir(exist_ok=True)
        assert self.ca is not None
        cert, key = issue(w, self.ca, "vpn.lab.test", ["vpn.lab.test", self.pair.addr_a],
                          server=True)  # fmt: skip
        (w / "x509" / "server.crt").write_bytes(cert.read_bytes())
        (w / "ecdsa" / "server.key").write_bytes(key.read_bytes())
        (w / "x509ca" / "ca.crt").write_bytes(self.ca[0].read_bytes())
        a = self.pair.addr_a
        (w / "swanctl.conf").write_text(
            "connections {\n"
            "  eap { version = 2\n"
            f"    local_addrs = {a}\n"
            "    proposals = aes256-sha256-modp2048,aes256-sha1-modp1024,aes128-sha1-modp1024\n"
            "    pools = rwpool\n    send_certreq = no\n"
            f"    local {{ auth = pubkey\n certs = server.crt\n id = {a} }}\n"
            "    remote { auth = eap-mschapv2\n eap_id = %any }\n"
            "    children { net { local_ts = 0.0.0.0/0\n"
            "      esp_proposals = aes256-sha256,aes256-sha1,aes128-sha1 } } }\n"
            "  psk { version = 2\n"
            f"    local_addrs = {a}\n"
            "    proposals = aes256-sha256-modp2048,aes256-sha1-modp1024\n"
            "    pools = rwpool\n"
            f"    local {{ auth = psk\n id = {a} }}\n"
            "    remote { auth = psk\n id = %any }\n"
            f"    children {{ net {{ local_ts = {self.inside}/32\n"
            "      esp_proposals = aes256-sha256,aes256-sha1 } } }\n"
            "}\n"
            f"pools {{ rwpool {{ addrs = {self.pool}\n dns = {self.dns} }} }}\n"
            "secrets {\n"
            f'  eap-alice {{ id = {USER}\n secret = "{PASSWORD}" }}\n'
            f'  eap-bob {{ id = {USER2}\n secret = "{PASSWORD}" }}\n'
            f'  ike-psk {{ secret = "{PSK}" }}\n'
            "}\n" + "".join(self.extra_conf)
        )

    def start(self, lab: NetnsLab, ca: tuple[Path, Path]) -> None:
        self.ca = ca
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._write_conf()
        lab.run(self.pair.a, ["ip", "addr", "add", f"{self.inside}/32", "dev", "lo"], check=False)
        self.launch(lab)

    def launch(self, lab: NetnsLab) -> None:
        """(Re)start charon and load the configuration; bounded waits."""
        self.vici.unlink(missing_ok=True)
        self.proc = lab.spawn(
            self.pair.a,
            ["unshare", "--mount", "--propagation", "private", "sh", "-c",
             'mount --bind -- "$0" /run && exec "$@"', str(self.workdir / "run"), CHARON],
            log=self.workdir / "charon.out",
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
                 "STRONGSWAN_CONF": str(self.workdir / "strongswan.conf")},
        )  # fmt: skip
        assert wait_until(lambda: self.vici.exists() or self.proc.poll() is not None, 15), (
            "responder charon did not start"
        )
        deadline = time.monotonic() + 15
        while True:
            res = subprocess.run(
                ["swanctl", "--load-all", "--file", str(self.workdir / "swanctl.conf"),
                 "--uri", f"unix://{self.vici}"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            if res.returncode == 0:
                return
            assert time.monotonic() < deadline, res.stdout + res.stderr
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no DELETE reaches the client (a crash, a cut cable)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def windows_entry(name: str, server: str, **extra: str) -> str:
    """An IKEv2 entry as Windows 10 exports it (rasphone.pbk), with ``extra`` keys added."""
    keys = {
        "Encoding": "1", "PBVersion": "4", "Type": "2", "AutoLogon": "0",
        "UseRasCredentials": "1", "LowDateTime": "-1426853104", "HighDateTime": "30846812",
        "DialParamsUID": "2147188", "Guid": "B2B2A3F5C36B2F4C8E9C41C2D0A1D7E8",
        "VpnStrategy": "7", "ExcludedProtocols": "8", "LcpExtensions": "1",
        "DataEncryption": "256", "SwCompression": "0", "NegotiateMultilinkAlways": "0",
        "SkipDoubleDialDialog": "0", "DialMode": "0", "OverridePref": "15",
        "RedialAttempts": "3", "RedialSeconds": "60", "IdleDisconnectSeconds": "0",
        "RedialOnLinkFailure": "1", "CallbackMode": "0", "CustomDialDll": "",
        "CustomDialFunc": "", "CustomRasDialDll": "", "ForceSecureCompartment": "0",
        "DisableIKENameEkuCheck": "0", "AuthenticateServer": "0", "ShareMsFilePrint": "1",
        "BindMsNetClient": "1", "SharedPhoneNumbers": "0", "GlobalDeviceSettings": "0",
        "PrerequisiteEntry": "", "PrerequisitePbk": "", "PreferredPort": "VPN2-0",
        "PreferredDevice": "WAN Miniport (IKEv2)", "PreferredBps": "0",
        "PreferredHwFlow": "1", "PreferredProtocol": "1", "PreferredCompression": "1",
        "PreferredSpeaker": "1", "PreferredMdmProtocol": "0", "PreviewUserPw": "1",
        "PreviewDomain": "1", "PreviewPhoneNumber": "0", "ShowDialingProgress": "1",
        "ShowMonitorIconInTaskBar": "1", "CustomAuthKey": "26", "AuthRestrictions": "128",
        "IpPrioritizeRemote": "1", "IpInterfaceMetric": "0", "IpHeaderCompression": "0",
        "IpAddress": "0.0.0.0", "IpDnsAddress": "0.0.0.0", "IpDns2Address": "0.0.0.0",
        "IpWinsAddress": "0.0.0.0", "IpWins2Address": "0.0.0.0", "IpAssign": "1",
        "IpNameAssign": "1", "IpDnsFlags": "0", "IpNBTFlags": "1", "TcpWindowSize": "0",
        "UseFlags": "2", "IpSecFlags": "0", "IpDnsSuffix": "", "Ipv6Assign": "1",
        "Ipv6Address": "::", "Ipv6PrefixLength": "0", "Ipv6PrioritizeRemote": "1",
        "Ipv6InterfaceMetric": "0", "Ipv6NameAssign": "1", "Ipv6DnsAddress": "::",
        "Ipv6Dns2Address": "::", "Ipv6Prefix": "0000000000000000",
        "Ipv6InterfaceId": "0000000000000000", "DisableClassBasedDefaultRoute": "0",
        "DisableMobility": "0", "NetworkOutageTime": "1800", "IDI": "", "IDR": "",
        "ImsConfig": "0", "IdiType": "0", "IdrType": "0", "ProvisionType": "0",
        "PreSharedKey": "", "CacheCredentials": "1", "NumCustomPolicy": "0", "NumEku": "0",
        "UseMachineRootCert": "0", "Disable_IKEv2_Fragmentation": "0", "NumServers": "0",
        "RouteVersion": "1", "NumRoutes": "0", "NumNrptRules": "0",
        "AutoTiggerCapable": "0", "NumAppIds": "0", "NumClassicAppIds": "0",
        "SecurityDescriptor": "", "ApnInfoProviderId": "", "ApnInfoUsername": "",
        "ApnInfoPassword": "", "ApnInfoAccessPoint": "", "ApnInfoAuthentication": "1",
        "ApnInfoCompression": "0", "DeviceComplianceEnabled": "0",
        "DeviceComplianceSsoEnabled": "0", "DeviceComplianceSsoEku": "",
        "DeviceComplianceSsoIssuer": "", "FlagsSet": "0", "Options": "0",
        "DisableDefaultDnsSuffixes": "0", "NumTrustedNetworks": "0",
        "NumDnsSearchSuffixes": "0", "PowershellCreatedProfile": "0", "ProxyFlags": "0",
        "ProxySettingsModified": "0", "ProvisioningAuthority": "", "AuthTypeOTP": "0",
        "GREKeyDefined": "0", "NumPerAppTrafficFilters": "0", "AlwaysOnCapable": "0",
        "DeviceTunnel": "0", "PrivateNetwork": "0",
    }  # fmt: skip
    keys.update(extra)
    body = "".join(f"{k}={v}\n" for k, v in keys.items())
    return (
        f"[{name}]\n{body}\nNETCOMPONENTS=\nms_msclient=1\nms_server=1\n\n"
        "MEDIA=rastapi\nPort=VPN2-0\nDevice=WAN Miniport (IKEv2)\n\n"
        f"DEVICE=vpn\nPhoneNumber={server}\nAreaCode=\nCountryCode=0\nCountryID=0\n"
        "UseDialingRules=0\nComment=\nFriendlyName=\nLastSelectedPhone=0\n"
        "PromoteAlternates=0\nTryNextAlternateOnFail=1\n\n"
    )
