"""Dial with a RasDialFunc1 callback, in the style of pywin32's Demos/rastest.py.

usage: async_dial.py PHONEBOOK ENTRY [PASSWORD] [--raise-in-callback]
"""

# ruff: noqa: UP031 - written the way pywin32's demo scripts are

import sys
import threading
import time

import win32ras

# Build a little dictionary of RAS states to decent strings.
stateMap = {}
for name, val in win32ras.__dict__.items():
    if name[:6] == "RASCS_":
        stateMap[val] = name[6:]

callbackEvent = threading.Event()
printLock = threading.Lock()  # the callback thread and the main thread both print


def say(*args):
    with printLock:
        print(*args, flush=True)


outcome = {}
raise_in_callback = "--raise-in-callback" in sys.argv


def Callback(hras, msg, state, error, exterror):
    stateName = stateMap.get(state, "Unknown state?")
    say("Status is %s (%04lx), error code is %d" % (stateName, state, error))
    if state == win32ras.RASCS_OpenPort and error == 0:
        say("no error text: %s" % win32ras.GetErrorString(0))
    if raise_in_callback and state == win32ras.RASCS_PortOpened:
        raise RuntimeError("a bug in the script's callback")
    if state == win32ras.RASCS_Connected:
        outcome["connected"] = hras
        callbackEvent.set()
    if error != 0 or int(state) == win32ras.RASCS_Disconnected:
        # we know for sure this is a good place to hangup....
        say("Detected call failure: %s" % win32ras.GetErrorString(error))
        HangUp(hras)
        outcome["failed"] = error
        callbackEvent.set()


def HangUp(hras):
    # trap potential, irrelevant errors from win32ras....
    try:
        win32ras.HangUp(hras)
    except win32ras.error:
        say("Tried to hang up gracefully on error, but didn't work....")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    phonebook, entry = args[0], args[1]
    password = args[2] if len(args) > 2 else ""
    hras, rc = win32ras.Dial(None, phonebook, (entry, "", "", "", password), Callback)
    say("Dial returned rc=%d with %s" % (rc, "a handle" if hras else "no handle"))
    if rc != 0:
        sys.exit(1)
    if not callbackEvent.wait(30):
        say("Gave up waiting for the process to complete!")
        HangUp(hras)
        sys.exit(3)
    if "connected" in outcome:
        say("connected to", [c[1] for c in win32ras.EnumConnections() if c[0] == hras])
        win32ras.HangUp(hras)
    # RasHangUp returns before the link is down: wait until the handle is invalid.
    deadline = time.monotonic() + 30
    while True:
        try:
            state = win32ras.GetConnectStatus(hras)[0]
        except win32ras.error as exc:
            say("handle gone: %d %s %s" % exc.args)
            break
        if time.monotonic() > deadline:
            say("still there in state", stateMap.get(state))
            sys.exit(4)
        time.sleep(0.01)


if __name__ == "__main__":
    main()
