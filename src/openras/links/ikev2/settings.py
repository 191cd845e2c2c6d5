"""An IKEv2 entry, checked and typed: what the driver builds charon's configuration from.

Read from the Windows keys an exported entry has (``PhoneNumber``, ``IpPrioritizeRemote``,
``DisableIKENameEkuCheck``, ``DisableMobility``, ``CustomAuthKey``, ``RASEO2_*`` bits that
``RasSetEntryProperties`` keeps in ``OpenRasOptions2``) and a few ``OpenRasIkev2*`` keys for
what Windows keeps in its certificate store::

    OpenRasIkev2Ca=/path/ca.pem       the server's CA (default: the system's CA store)
    OpenRasIkev2Auth=eap|psk|cert     default: eap (EAP-MSCHAPv2), or what Options2 says
    OpenRasIkev2Cert=/path/cert.pem   the machine certificate (cert auth), with its chain
    OpenRasIkev2Key=/path/key.pem     its private key (PEM: PKCS#8, RSA or EC)
    OpenRasIkev2DpdSeconds=30         dead peer detection interval (0: off)

Every file is read as the entry's owner (the kernel decides), once, in ``validate``; the
contents go to charon over VICI, never as a path charon opens.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from openras.errors import (
    ERROR_ACCESS_DENIED,
    ERROR_AUTHENTICATION_FAILURE,
    ERROR_BAD_PHONE_NUMBER,
    ERROR_INVALID_PARAMETER,
    ERROR_IPSEC_IKE_NO_CERT,
    ERROR_IPSEC_IKE_NO_PRIVATE_KEY,
    NEEDS_CREDENTIALS,
    RasError,
)
from openras.links._common import entry_bool, entry_int, resolve_entry_path
from openras.links._owner_files import read_owner_file
from openras.links.base import LinkSpec

#: The system's CA bundle (Debian's ca-certificates), Windows' "Trusted Root" store here.
SYSTEM_CA_BUNDLE: Final = Path("/etc/ssl/certs/ca-certificates.crt")
#: Another bundle, set by whoever starts the daemon (an administrator's own CA store, a test
#: lab's CA); never read from a phonebook.
CA_BUNDLE_ENV: Final = "OPENRAS_CA_BUNDLE"


def system_ca_bundle() -> Path:
    return Path(os.environ.get(CA_BUNDLE_ENV) or SYSTEM_CA_BUNDLE)


RASEO2_REQUIRE_MACHINE_CERTIFICATES: Final = 0x400000
RASEO2_USE_PSK_FOR_IKEV2_INITIATOR: Final = 0x800000
RASEO2_DISABLE_MOBILITY: Final = 0x200000
RASEO2_DISABLE_IKE_NAME_EKU_CHECK: Final = 0x40000
#: CustomAuthKey values (EAP types): 26 EAP-MSCHAPv2 (Windows' default for a user name and
#: password), 13 EAP-TLS (smart card or user certificate), 25 PEAP.
EAP_MSCHAPV2: Final = 26
_UNSUPPORTED_EAP: Final = {13: "EAP-TLS", 25: "PEAP"}
_PEM_CERT: Final = re.compile(
    rb"-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----"
)
_PEM_KEY: Final = re.compile(
    rb"-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----\r?\n.+?-----END \1?PRIVATE KEY-----",
    re.DOTALL,
)
_HOST: Final = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$")
_USER: Final = re.compile(r"^[^\x00-\x1f\x7f]{1,255}$")


def pem_certificates(data: bytes) -> list[bytes]:
    """Every PEM certificate block in ``data`` (a bundle, a chain)."""
    return [m.group(0) + b"\n" for m in _PEM_CERT.finditer(data)]


@dataclass(frozen=True)
class Ikev2Settings:
    """What one IKEv2 dial needs, checked."""

    server: str
    #: The identity the server's certificate must carry (the name dialed), or "%any".
    remote_id: str
    auth: str  # eap | psk | cert
    user: str = ""
    secret: str = field(default="", repr=False)
    #: PEM certificates the server's chain may end in.
    cas: tuple[bytes, ...] = field(default=(), repr=False)
    ca_source: str = ""
    #: The machine certificate (first) and its chain, and its private key (cert auth).
    certs: tuple[bytes, ...] = field(default=(), repr=False)
    key: bytes = field(default=b"", repr=False)
    key_type: str = ""
    full_tunnel: bool = True
    mobike: bool = True
    dpd_seconds: int = 30

    @property
    def eap_type(self) -> int:
        return EAP_MSCHAPV2 if self.auth == "eap" else 0


def _server(spec: LinkSpec) -> str:
    entry_number = (spec.entry.get("PhoneNumber") or "").strip()
    if spec.grant.admin_credentials and spec.params.phone_number.strip() not in ("", entry_number):
        raise RasError(
            ERROR_ACCESS_DENIED,
            "the administrator's saved credentials go only to the entry's own server "
            "(its PhoneNumber), not to another one",
        )
    server = spec.params.phone_number.strip() or entry_number
    if not server:
        raise RasError(ERROR_BAD_PHONE_NUMBER, "no PhoneNumber (the VPN server's name or address)")
    try:
        return str(ipaddress.ip_address(server.strip("[]")))
    except ValueError:
        pass
    if not _HOST.match(server) or ".." in server:
        raise RasError(ERROR_BAD_PHONE_NUMBER, f"PhoneNumber={server!r} is not a host name")
    return server.lower()


def _auth(spec: LinkSpec, options2: int) -> str:
    raw = (spec.entry.get("OpenRasIkev2Auth") or "").strip().lower()
    if raw:
        if raw not in ("eap", "psk", "cert"):
            raise RasError(
                ERROR_INVALID_PARAMETER, f"OpenRasIkev2Auth={raw!r}: use eap, psk or cert"
            )
        return raw
    if options2 & RASEO2_REQUIRE_MACHINE_CERTIFICATES:
        return "cert"
    if options2 & RASEO2_USE_PSK_FOR_IKEV2_INITIATOR:
        return "psk"
    key = entry_int(spec.entry, "CustomAuthKey", 0)
    if key in _UNSUPPORTED_EAP:
        raise RasError(
            ERROR_INVALID_PARAMETER,
            f"CustomAuthKey={key} asks for {_UNSUPPORTED_EAP[key]}, which openras's IKEv2 "
            "link does not do yet (EAP-MSCHAPv2, machine certificate and PSK are supported)",
        )
    return "eap"


def _read(spec: LinkSpec, key: str, *, code: int, what: str) -> tuple[Path, bytes] | None:
    raw = spec.entry.get(key)
    if raw is None or not raw.strip():
        return None
    path = resolve_entry_path(spec, key, raw.strip())
    # The administrator's saved secret is only ever checked against root's files.
    reader = 0 if spec.grant.admin_credentials else spec.owner_uid
    return path, read_owner_file(path, reader, code=code, what=what)


def read_cas(spec: LinkSpec, key: str = "OpenRasIkev2Ca") -> tuple[tuple[bytes, ...], str]:
    """The CA certificates the entry's ``key`` names (read as the caller), else the system's
    bundle; and where they came from."""
    named = _read(spec, key, code=ERROR_INVALID_PARAMETER, what="CA file")
    if named is not None:
        path, data = named
        cas = pem_certificates(data)
        if not cas:
            raise RasError(ERROR_INVALID_PARAMETER, f"{key}={path}: no PEM certificate")
        return tuple(cas), str(path)
    bundle = system_ca_bundle()
    try:
        data = bundle.read_bytes()
    except OSError:
        data = b""
    return tuple(pem_certificates(data)), str(bundle)


def read_machine_cert(
    spec: LinkSpec,
    *,
    cert_key: str = "OpenRasIkev2Cert",
    key_key: str = "OpenRasIkev2Key",
    no_cert: int = ERROR_IPSEC_IKE_NO_CERT,
    no_key: int = ERROR_IPSEC_IKE_NO_PRIVATE_KEY,
) -> tuple[tuple[bytes, ...], bytes, str]:
    """The machine certificate (first) with its chain, its PEM private key and the key's
    VICI type, from the files the entry's ``cert_key`` and ``key_key`` name (read as the
    caller); RasError(``no_cert`` or ``no_key``) naming the key to set."""
    cert = _read(spec, cert_key, code=no_cert, what="certificate")
    if cert is None:
        raise RasError(
            no_cert,
            "the entry authenticates with a machine certificate and names none: set "
            f"{cert_key}= and {key_key}= (PEM files)",
        )
    certs = pem_certificates(cert[1])
    if not certs:
        raise RasError(no_cert, f"{cert_key}={cert[0]}: no PEM certificate")
    key = _read(spec, key_key, code=no_key, what="key")
    found = _PEM_KEY.search(key[1]) if key is not None else None
    if key is None or found is None:
        raise RasError(
            no_key,
            f"the machine certificate's private key is missing: set {key_key}= to a PEM "
            "private key file",
        )
    kind = (found.group(1) or b"").decode().strip()
    if kind == "ENCRYPTED":
        raise RasError(
            no_key,
            f"{key_key}={key[0]}: the key is encrypted; give an unencrypted key file "
            "readable only by you",
        )
    key_type = {"RSA": "rsa", "EC": "ecdsa"}.get(kind, "any")
    return tuple(certs), found.group(0) + b"\n", key_type


def settings_from_spec(spec: LinkSpec) -> Ikev2Settings:
    """The checked settings of ``spec``'s entry; RasError naming the key when one is wrong."""
    entry = spec.entry
    server = _server(spec)
    options2 = entry_int(entry, "OpenRasOptions2", 0, maximum=2**32 - 1)
    name_check = not (
        entry_bool(entry, "DisableIKENameEkuCheck") or options2 & RASEO2_DISABLE_IKE_NAME_EKU_CHECK
    )
    remote_id = server if name_check or spec.grant.admin_credentials else "%any"
    auth = _auth(spec, options2)
    user = secret = ""
    certs: tuple[bytes, ...] = ()
    key = b""
    key_type = ""
    if auth == "eap":
        user = spec.params.user
        if spec.params.domain:
            user = f"{spec.params.domain}\\{user}"
        secret = spec.params.password
        if not user or not secret:
            raise RasError(
                ERROR_AUTHENTICATION_FAILURE,
                "the entry signs in with a user name and password (EAP-MSCHAPv2) and the dial "
                "has none: give them (rasdial ENTRY USER '*', openras dial ENTRY -u USER -p) "
                "or save them (openras creds set ENTRY)",
                needs=NEEDS_CREDENTIALS,
            )
        if not _USER.match(user):
            raise RasError(ERROR_INVALID_PARAMETER, f"{user!r} is not a valid user name")
    elif auth == "psk":
        secret = spec.params.password
        if not secret:
            raise RasError(
                ERROR_INVALID_PARAMETER,
                "the entry authenticates with a pre-shared key: give it as the password",
            )
    else:
        certs, key, key_type = read_machine_cert(spec)
    cas, ca_source = read_cas(spec)
    if not cas and auth != "psk":
        raise RasError(
            ERROR_INVALID_PARAMETER,
            f"no CA certificate to check the server with ({ca_source} has none): set "
            "OpenRasIkev2Ca= to the CA's PEM file",
        )
    full_tunnel = entry_int(entry, "IpPrioritizeRemote", 1) != 0
    if full_tunnel and not spec.grant.full_tunnel:
        raise RasError(
            ERROR_ACCESS_DENIED,
            "the entry routes everything through the tunnel (IpPrioritizeRemote=1) and the "
            f"policy does not allow it here ({spec.grant.full_tunnel_rule}); set "
            "IpPrioritizeRemote=0",
        )
    mobike = not (entry_bool(entry, "DisableMobility") or options2 & RASEO2_DISABLE_MOBILITY)
    return Ikev2Settings(
        server=server, remote_id=remote_id, auth=auth, user=user, secret=secret, cas=cas,
        ca_source=ca_source, certs=certs, key=key, key_type=key_type,
        full_tunnel=full_tunnel, mobike=mobike,
        dpd_seconds=entry_int(entry, "OpenRasIkev2DpdSeconds", 30, maximum=3600),
    )  # fmt: skip


__all__ = [
    "Ikev2Settings",
    "pem_certificates",
    "read_cas",
    "read_machine_cert",
    "settings_from_spec",
]
