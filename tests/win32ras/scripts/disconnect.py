"""Find a connection by entry name and end it, as rastest.py's Disconnect does.

usage: disconnect.py ENTRY
"""

# ruff: noqa: B007 - written the way pywin32's demo scripts are

import sys
import time

import win32ras


def Disconnect(rasEntry):
    # Need to find the entry
    name = rasEntry.lower()
    for hcon, entryName, devName, devType in win32ras.EnumConnections():
        if entryName.lower() == name:
            win32ras.HangUp(hcon)
            print("Disconnected from", rasEntry)
            return hcon
    print("Could not find an open connection to", rasEntry)
    return None


hcon = Disconnect(sys.argv[1])
if hcon is not None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            win32ras.GetConnectStatus(hcon)
        except win32ras.error as exc:
            print("gone:", exc.winerror, exc.funcname, exc.strerror)
            break
        time.sleep(0.01)
    else:
        print("still there")
        sys.exit(4)
