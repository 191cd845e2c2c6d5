"""``python -m openras.demo``: the RAS model end to end on the embedded default.

Makes sure a loopback entry exists in the user's phonebook, dials it with ``RasDial`` (the
per-user daemon starts on demand), lists connections from a *second process* with
``RasEnumConnections``, hangs up with ``RasHangUp`` and waits until ``RasGetConnectStatus``
answers ERROR_INVALID_HANDLE, printing every state as it happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

from openras import paths, rasapi
from openras.paths import user_phonebook
from openras.states import RasConnState

ENTRY = "openras demo"
SECOND_PROCESS = """
from openras import paths, rasapi
code, conns = rasapi.RasEnumConnections()
print(f"  [pid {__import__('os').getpid()}] RasEnumConnections -> {code}, {len(conns)} connection(s)")
for c in conns:
    print(f"    handle {c.hrasconn}: {c.szEntryName!r} on {c.szDeviceType}/{c.szDeviceName}")
"""


def ensure_entry() -> str:
    from openras.phonebook import Phonebook, edit

    path = user_phonebook()

    def add(book: Phonebook) -> None:
        if book.find(ENTRY) is None:
            book.add_entry(
                ENTRY,
                [
                    ("Type", "2"),
                    ("OpenRasDevice", "loopback"),
                    ("OpenRasLoopbackStepMs", "150"),
                    ("OpenRasLoopbackHangUpMs", "400"),
                ],
            )
            print(f"added entry {ENTRY!r} to {path}")

    edit(path, add, create=True)
    return str(path)


def main() -> int:
    phonebook = ensure_entry()
    done = threading.Event()
    t0 = time.monotonic()

    def on_state(hrasconn: int, msg: int, state: int, error: int, exterror: int) -> None:
        name = RasConnState(state).rascs_name
        print(
            f"  {time.monotonic() - t0:6.3f}s  handle {hrasconn}: {name}"
            + (f"  error {error}" if error else "")
        )
        if error or state == RasConnState.Connected:
            done.set()

    print(f"RasDial({ENTRY!r}) with a RasDialFunc1 notifier:")
    code, h = rasapi.RasDial(None, phonebook, rasapi.RASDIALPARAMS(szEntryName=ENTRY), 1, on_state)
    if code:
        print(f"RasDial failed: {code} {rasapi.RasGetErrorString(code)[1]}")
        return 1
    done.wait(30)
    code, status = rasapi.RasGetConnectStatus(h)
    if status is None or status.dwError:
        print(f"dial failed: {status}")
        rasapi.RasHangUp(h)
        return 1
    print("a second process lists the connections:")
    subprocess.run([sys.executable, "-c", SECOND_PROCESS], check=True)
    print(f"RasHangUp({h}) returns at once:", rasapi.RasHangUp(h))
    last = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code, status = rasapi.RasGetConnectStatus(h)
        if code == rasapi.ERROR_INVALID_HANDLE:
            print(
                f"  {time.monotonic() - t0:6.3f}s  RasGetConnectStatus -> {code} (ERROR_INVALID_HANDLE): the link is gone"
            )
            _which_daemon()
            return 0
        assert status is not None
        if status.rasconnstate != last:
            last = status.rasconnstate
            print(
                f"  {time.monotonic() - t0:6.3f}s  RasGetConnectStatus -> {code}, {RasConnState(last).rascs_name} (tearing down)"
            )
        time.sleep(0.01)
    print("the connection did not go away in time")
    return 1


def _which_daemon() -> None:
    """Say which connection manager served the demo and how to stop it."""
    from openras import Client

    with Client() as c:
        info = c.call("org.openras.Manager.Ping")
        where = c._t.path
    if os.geteuid() == 0:
        whose = "root's daemon"
    elif where == paths.system_socket():
        whose = "the system daemon"
    else:
        whose = "your per-user daemon"
    print(
        f"served by {whose}: rasman pid {info['pid']} on {where}; it keeps running for the "
        f"next client (stop it with: kill {info['pid']})"
    )


if __name__ == "__main__":
    sys.exit(main())
