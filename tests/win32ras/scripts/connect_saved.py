"""Save an entry's password, then dial and hang up the way pywin32's rasutil.py does.

usage: connect_saved.py ENTRY USER PASSWORD
"""

# ruff: noqa: UP031 - written the way pywin32's demo scripts are

import sys
import time

import win32ras


class ConnectionError(Exception):
    pass


def Connect(rasEntryName, numRetries=5):
    for info in win32ras.EnumConnections():
        if info[1].lower() == rasEntryName.lower():
            print("Already connected to", rasEntryName)
            return 0, info[0]

    dial_params, have_pw = win32ras.GetEntryDialParams(None, rasEntryName)
    if not have_pw:
        print("Error: The password is not saved for this connection")
        sys.exit(1)

    print("Connecting to", rasEntryName, "...")
    retryCount = numRetries
    while retryCount > 0:
        rasHandle, errCode = win32ras.Dial(None, None, dial_params, None)
        if win32ras.IsHandleValid(rasHandle):
            break
        print("Retrying...")
        retryCount = retryCount - 1

    if errCode:
        raise ConnectionError(errCode, win32ras.GetErrorString(errCode), rasHandle)
    return 1, rasHandle


def WaitGone(handle):
    """Poll until the handle answers ERROR_INVALID_HANDLE (the link is really down)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            win32ras.GetConnectStatus(handle)
        except win32ras.error as exc:
            if exc.winerror == 6:
                return True
            raise
        time.sleep(0.01)
    return False


def Disconnect(handle):
    if isinstance(handle, str):  # have they passed a connection name?
        for info in win32ras.EnumConnections():
            if info[1].lower() == handle.lower():
                handle = info[0]
                break
        else:
            raise ConnectionError(0, "Not connected to entry '%s'" % handle)
    win32ras.HangUp(handle)
    return handle


def main():
    entry, user, password = sys.argv[1:4]
    # What "Save password" in the Windows dial dialog does.
    win32ras.SetEntryDialParams(None, (entry, "", "", user, password, ""), 0)
    params, have = win32ras.GetEntryDialParams(None, entry)
    print("saved: user=%s password=%s have=%s" % (params[3], params[4], have))
    try:
        new, handle = Connect(entry)
    except ConnectionError as exc:
        code, text, handle = exc.args
        print("failed %d %s" % (code, text))
        if win32ras.IsHandleValid(handle):  # a failed dial still owns its handle
            win32ras.HangUp(handle)
            print("gone" if WaitGone(handle) else "still there")
        sys.exit(2)
    state = win32ras.GetConnectStatus(handle)[0]
    print("connected", new, state == win32ras.RASCS_Connected)
    handle = Disconnect(entry)
    print("disconnected" if WaitGone(handle) else "still there")


if __name__ == "__main__":
    main()
