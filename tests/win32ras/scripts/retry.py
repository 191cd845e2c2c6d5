"""rasutil.Connect's retry loop: dial until IsHandleValid(handle), then raise on an error
(caught as ``pywintypes.error``, the way Windows scripts do).

usage: retry.py ENTRY
"""

# ruff: noqa: UP031 - written the way pywin32's demo scripts are

import sys
import time

import pywintypes

import win32ras


def Connect(rasEntryName, numRetries=3):
    retryCount = numRetries
    while retryCount > 0:
        rasHandle, errCode = win32ras.Dial(None, None, (rasEntryName,), None)
        if win32ras.IsHandleValid(rasHandle):
            break
        print("Retrying...")
        retryCount = retryCount - 1
    if errCode:
        print("error %d: %s" % (errCode, win32ras.GetErrorString(errCode)))
        if win32ras.IsHandleValid(rasHandle):
            win32ras.HangUp(rasHandle)
        sys.exit(2)
    return rasHandle


handle = Connect(sys.argv[1])
print("connected:", win32ras.GetConnectStatus(handle)[0] == win32ras.RASCS_Connected)
win32ras.HangUp(handle)
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        win32ras.GetConnectStatus(handle)
    except pywintypes.error as exc:
        if exc.winerror == 6:
            print("hung up")
            break
        raise
    time.sleep(0.01)
