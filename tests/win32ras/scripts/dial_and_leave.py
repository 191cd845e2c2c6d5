"""Dial synchronously and exit without hanging up: the connection outlives the script.

usage: dial_and_leave.py PHONEBOOK ENTRY
"""

import sys

import win32ras

hras, rc = win32ras.Dial(None, sys.argv[1], (sys.argv[2],), None)
if rc != 0:
    print("Could not dial the RAS connection:", win32ras.GetErrorString(rc))
    if hras:
        win32ras.HangUp(hras)
    sys.exit(1)
print("connected, handle", hras)
