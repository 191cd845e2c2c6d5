"""RASCONNSTATE with the Windows numbers, and the groups the lifecycle needs."""

from __future__ import annotations

import enum

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final

RASCS_PAUSED: Final = 0x1000
RASCS_DONE: Final = 0x2000


class RasConnState(enum.IntEnum):
    """The states a connection attempt passes through (values as in ``ras.h``)."""

    OpenPort = 0
    PortOpened = 1
    ConnectDevice = 2
    DeviceConnected = 3
    AllDevicesConnected = 4
    Authenticate = 5
    AuthNotify = 6
    AuthRetry = 7
    AuthCallback = 8
    AuthChangePassword = 9
    AuthProject = 10
    AuthLinkSpeed = 11
    AuthAck = 12
    ReAuthenticate = 13
    Authenticated = 14
    PrepareForCallback = 15
    WaitForModemReset = 16
    WaitForCallback = 17
    Projected = 18
    StartAuthentication = 19
    CallbackComplete = 20
    LogonNetwork = 21
    SubEntryConnected = 22
    SubEntryDisconnected = 23
    ApplySettings = 24
    Interactive = RASCS_PAUSED
    RetryAuthentication = RASCS_PAUSED + 1
    CallbackSetByCaller = RASCS_PAUSED + 2
    PasswordExpired = RASCS_PAUSED + 3
    InvokeEapUI = RASCS_PAUSED + 4
    Connected = RASCS_DONE
    Disconnected = RASCS_DONE + 1

    @property
    def rascs_name(self) -> str:
        """The ``RASCS_*`` constant name."""
        return f"RASCS_{self.name}"

    @property
    def is_paused(self) -> bool:
        return bool(self & RASCS_PAUSED) and not self & RASCS_DONE

    @property
    def is_done(self) -> bool:
        return bool(self & RASCS_DONE)

    @classmethod
    def parse(cls, value: int | str) -> RasConnState:
        """A state from its number, its name or its ``RASCS_`` name (case-insensitive)."""
        if isinstance(value, int):
            return cls(value)
        text = value.strip()
        if text.isdigit() or text.lower().startswith("0x"):
            return cls(int(text, 0))
        key = text.lower().removeprefix("rascs_")
        for state in cls:
            if state.name.lower() == key:
                return state
        raise ValueError(f"unknown RAS state {value!r}")


#: The running states the loopback device walks, in order (as a real VPN link does).
DIAL_SEQUENCE: Final = (
    RasConnState.OpenPort,
    RasConnState.PortOpened,
    RasConnState.ConnectDevice,
    RasConnState.DeviceConnected,
    RasConnState.AllDevicesConnected,
    RasConnState.Authenticate,
    RasConnState.Authenticated,
    RasConnState.AuthProject,
    RasConnState.Projected,
    RasConnState.Connected,
)
