"""Dial an entry whose link drops by itself; notice the drop by polling GetConnectStatus.

usage: dropper.py PHONEBOOK ENTRY
"""

# ruff: noqa: UP031 - written the way pywin32's demo scripts are

import sys
import time

import win32ras

hras, rc = win32ras.Dial(None, sys.argv[1], (sys.argv[2],), None)
print("dial rc", rc)
if rc:
    sys.exit(1)
seen = False
deadline = time.monotonic() + 30
while True:
    try:
        state, err, deviceType, deviceName = win32ras.GetConnectStatus(hras)
    except win32ras.error as exc:
        if exc.winerror != 6:
            raise
        print("gone")
        break
    if state == win32ras.RASCS_Disconnected and not seen:
        seen = True
        print("dropped with %d: %s" % (err, win32ras.GetErrorString(err)))
    if time.monotonic() > deadline:
        print("never dropped")
        win32ras.HangUp(hras)
        sys.exit(3)
    time.sleep(0.005)
try:
    win32ras.HangUp(hras)
except win32ras.error as exc:
    print("HangUp after the drop:", exc.winerror)
print("connections:", win32ras.EnumConnections())
