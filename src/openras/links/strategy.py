"""Windows' VPN strategies: which tunnel types a ``DEVICE=vpn`` entry tries, in what order,
and which failures move on to the next one. Pure: the registry asks which types have a
driver here, the attempts link (:mod:`openras.links.attempts`) runs them.

The orders (``VpnStrategy=`` / RASENTRY ``dwVpnStrategy``):

* ``1``, ``3``, ``5``, ``7``: that type only (PPTP, L2TP, SSTP, IKEv2).
* ``2``, ``4``, ``6``, ``8`` (one type "first"): Windows 7 and later try the others after it
  as the Connection Manager documentation gives them: PPTP first = PPTP, IKEv2, SSTP, L2TP;
  L2TP first = L2TP, IKEv2, PPTP, SSTP; SSTP first = SSTP, IKEv2, PPTP, L2TP; IKEv2 first =
  IKEv2, PPTP, SSTP, L2TP.
* ``12``, ``13``, ``14``: the pair (PPTP then SSTP, L2TP then SSTP, IKEv2 then SSTP).
* ``0`` (Automatic, and an entry with no strategy): the type the entry's ``PreferredDevice``
  names first (Windows writes there the miniport that last connected, and "the protocol
  that succeeds is tried first in subsequent dialing"), then Windows 10's order, which
  tries SSTP before IKEv2: SSTP, IKEv2, PPTP, L2TP. An entry without a strategy that names
  a miniport (the minimal entries scripts write) dials that type only, as before.

What moves on: a failure of the tunnel itself (no answer, refused, blocked, the security
layer, no local support for the type). What does not: a wrong password or a refused
account (the next type would be refused too, and a lockout policy counts each try), a
name that does not resolve, a hang-up.
"""

from __future__ import annotations

from typing import Final

from openras import errors

IKEV2: Final = "IKEv2"
SSTP: Final = "SSTP"
PPTP: Final = "PPTP"
L2TP: Final = "L2TP"

#: The strategy value that means "this type only": an attempt dials the entry as if it said so.
ONLY: Final = {PPTP: "1", L2TP: "3", SSTP: "5", IKEV2: "7"}

_AUTOMATIC: Final = (SSTP, IKEV2, PPTP, L2TP)
ORDER: Final[dict[str, tuple[str, ...]]] = {
    "0": _AUTOMATIC,
    "1": (PPTP,),
    "2": (PPTP, IKEV2, SSTP, L2TP),
    "3": (L2TP,),
    "4": (L2TP, IKEV2, PPTP, SSTP),
    "5": (SSTP,),
    "6": (SSTP, IKEV2, PPTP, L2TP),
    "7": (IKEV2,),
    "8": (IKEV2, PPTP, SSTP, L2TP),
    "12": (PPTP, SSTP),
    "13": (L2TP, SSTP),
    "14": (IKEV2, SSTP),
}

_MINIPORTS: Final = {"(ikev2)": IKEV2, "(sstp)": SSTP, "(pptp)": PPTP, "(l2tp)": L2TP}


def protocol_of_device(preferred_device: str | None) -> str | None:
    """The tunnel type a Windows device name is the miniport of (``WAN Miniport (IKEv2)``)."""
    low = (preferred_device or "").lower()
    return next((proto for tag, proto in _MINIPORTS.items() if tag in low), None)


def attempt_order(strategy: str | None, preferred_device: str | None) -> tuple[str, ...]:
    """The tunnel types an entry tries, in order (empty for a strategy Windows does not
    define here: 9, GRE only; 15, a protocol list of the Windows 10 VPN profile)."""
    raw = (strategy or "").strip()
    named = protocol_of_device(preferred_device)
    if not raw and named is not None:
        return (named,)  # no strategy, a miniport named: that type, as Windows dials it
    order = ORDER.get(raw or "0", ())
    if (raw or "0") == "0" and named is not None:
        return (named, *(p for p in order if p != named))
    return order


def first_type(strategy: str | None, preferred_device: str | None) -> str | None:
    """The tunnel type an entry dials first (what a driver asks to know whether the entry
    is "its" type: PPTP for ``VpnStrategy`` 1, 2 and 12, or none and the PPTP miniport)."""
    order = attempt_order(strategy, preferred_device)
    return order[0] if order else None


#: Codes that end the list: the next type would fail the same way (a refused account, a
#: name that does not resolve), the policy refused it, or the user ended the dial.
_FINAL: Final = frozenset(
    {
        errors.ERROR_ACCESS_DENIED,  # 5
        errors.ERROR_USER_DISCONNECTION,  # 631
        errors.ERROR_AUTHENTICATION_FAILURE,  # 691
        errors.ERROR_DNSNAME_NOT_RESOLVABLE,  # 868
    }
)


def worth_next(code: int) -> bool:
    """Whether a failed attempt (RAS ``code``) moves on to the next tunnel type: a RAS
    error (600-899) about the tunnel, or an IKE one (13801-13899), but not a final one."""
    if code in _FINAL:
        return False
    return 600 <= code < 900 or 13800 < code < 13900
