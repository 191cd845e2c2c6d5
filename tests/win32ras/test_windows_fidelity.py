"""Issue 17: what Windows' documentation (ras.h, the API pages) and pywin32's source say the
calls return, checked against a real rasman with loopback entries."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from openras import rasapi as r
from openras import win32api, win32event
from openras import win32ras as w

#: An entry as a Windows 10 export writes it (PreferredDevice, DEVICE=vpn, VpnStrategy=1 =
#: PPTP only), made dialable here by openras's own key; no Guid= line.
PPTP_LIKE = """
[Office PPTP]
Encoding=1
Type=2
VpnStrategy=1
PreferredDevice=WAN Miniport (PPTP)
OpenRasDevice=loopback
OpenRasLoopbackStepMs=5
OpenRasLoopbackHangUpMs=20
DEVICE=vpn
PhoneNumber=pptp.example.com
"""


@pytest.fixture
def book(rasman) -> Path:
    path = Path(rasman.phonebook)
    path.write_text(path.read_text() + PPTP_LIKE)
    return path


def _dial(book: Path, entry: str) -> int:
    code, h = r.RasDial(None, str(book), r.RASDIALPARAMS(szEntryName=entry))
    assert code == 0 and h > 0
    return h


def test_device_type_and_name_are_the_entrys_not_the_drivers(book, fresh_rasapi):
    h = _dial(book, "Office PPTP")
    try:
        # pywin32's tuple is (handle, entryName, deviceType, deviceName): RASDT_Vpn and the
        # entry's device, as Windows 10 reports a PPTP connection.
        assert w.EnumConnections() == [(h, "Office PPTP", "vpn", "WAN Miniport (PPTP)")]
        code, st = r.RasGetConnectStatus(h)
        assert code == 0 and st is not None
        assert (st.szDeviceType, st.szDeviceName) == ("vpn", "WAN Miniport (PPTP)")
        assert st.szOpenRasDriver == "loopback"  # the driver, in openras's own field
        assert st.rasconnsubstate == r.RASCSS_None
        assert st.remoteEndPoint.dwType in (0, 1, 2)
    finally:
        r.RasHangUp(h)


def test_rasconn_identity_fields(book, fresh_rasapi):
    import os

    h = _dial(book, "Office PPTP")
    try:
        code, conns = r.RasEnumConnections()
        assert code == 0
        [c] = conns
        # Every entry has a GUID on Windows; this one has no Guid= line: the same derived one
        # as RasGetEntryProperties gives, and nothing written to the file.
        code, props = r.RasGetEntryProperties(str(book), "Office PPTP")
        assert code == 0 and props is not None
        assert len(c.guidEntry) == 32 and c.guidEntry == props.guidId
        assert "Guid=" not in book.read_text()
        assert c.luid == r.LUID(os.geteuid(), 0)
        assert len(c.guidCorrelationId) == 32 and c.guidCorrelationId != c.guidEntry
        code, again = r.RasEnumConnections()
        assert again[0].guidCorrelationId == c.guidCorrelationId  # stable per connection
    finally:
        r.RasHangUp(h)


def test_entry_without_type_reads_as_its_devices_raset(tmp_path):
    book = tmp_path / "types.pbk"
    book.write_text(
        "[Modem]\nDEVICE=modem\nPhoneNumber=555\n\n[Broadband]\nDEVICE=PPPoE\n\n"
        "[Tunnel]\nDEVICE=vpn\nPhoneNumber=x\n\n[Own]\nOpenRasDevice=loopback\n"
    )
    want = {"Modem": 1, "Broadband": 5, "Tunnel": 2, "Own": 2}  # RASET_Phone, _Broadband, _Vpn
    for name, raset in want.items():
        code, props = r.RasGetEntryProperties(str(book), name)
        assert code == 0 and props is not None and props.dwType == raset, name
    before = book.read_bytes()
    code, props = r.RasGetEntryProperties(str(book), "Modem")
    assert props is not None and r.RasSetEntryProperties(str(book), "Modem", props) == 0
    assert book.read_bytes() == before  # Get then Set writes no Type= (nor Guid=)


def test_buffer_sizes_answer_603_with_the_needed_size(book, fresh_rasapi):
    # RasEnumConnections: no connections succeeds with count 0 whatever the size.
    assert r.RasEnumConnections(0) == (0, [], 0, 0)
    h = _dial(book, "Office PPTP")
    try:
        code, conns, needed, count = r.RasEnumConnections(0)
        assert (code, conns, needed, count) == (603, [], r.SIZEOF_RASCONN, 1)
        code, conns, needed, count = r.RasEnumConnections(needed)
        assert (code, len(conns), count) == (0, 1, 1)
    finally:
        r.RasHangUp(h)
    code, names, needed, count = r.RasEnumEntries(None, str(book), 0)
    assert code == 603 and names == [] and needed == count * r.SIZEOF_RASENTRYNAME > 0
    assert r.RasEnumEntries(None, str(book), needed)[0] == 0
    code, props, needed = r.RasGetEntryProperties(str(book), "Office PPTP", 0)
    assert (code, props, needed) == (603, None, r.SIZEOF_RASENTRY)
    assert r.RasGetEntryProperties(str(book), "Office PPTP", needed)[0] == 0
    assert r.RasEnumConnections()[0] == 0  # without a size: as before


def test_projection_info_shapes(book, fresh_rasapi):
    h = _dial(book, "Office PPTP")
    try:
        code, ip = r.RasGetProjectionInfo(h, r.RASP_PppIp)
        assert code == 0 and isinstance(ip, r.RASPPPIP) and ip.szIpAddress == "127.0.0.1"
        assert r.RasGetProjectionInfo(h, r.RASP_PppLcp) == (r.ERROR_PROTOCOL_NOT_CONFIGURED, None)
        assert r.RasGetProjectionInfo(h, r.RASP_Amb) == (r.ERROR_PROTOCOL_NOT_CONFIGURED, None)
        assert r.RasGetProjectionInfo(h, 0x1234) == (87, None)
        code, info = r.RasGetProjectionInfoEx(h)
        assert code == 0 and info is not None
        assert (info.version, info.type) == (4, r.PROJECTION_INFO_TYPE_IKEv2)
        assert info.ppp is None and info.ikev2 is not None
        assert info.ikev2.ipv4Address == "127.0.0.1"
    finally:
        r.RasHangUp(h)
    assert r.RasGetProjectionInfo(987654, r.RASP_PppIp) == (6, None)
    assert not hasattr(w, "GetProjectionInfo")  # pywin32's win32ras has none


def test_error_string_outside_raserror_h():
    # The documentation: ResourceId is a RasError.h value; failure is ERROR_INVALID_PARAMETER.
    assert r.RasGetErrorString(6) == (87, "")
    assert r.RasGetErrorString(797)[0] == 0
    # pywin32 raises with GetLastError(), which RasGetErrorString does not set.
    with pytest.raises(w.error) as info:
        w.GetErrorString(6)
    assert info.value.args == (0, "RasGetErrorString", "No error message is available")
    assert win32api.FormatMessage(6) == "The handle is invalid.\r\n"


def test_win32event_auto_and_manual_reset():
    auto = win32event.CreateEvent(None, 0, 0, None)
    assert win32event.WaitForSingleObject(auto, 0) == win32event.WAIT_TIMEOUT
    threading.Thread(target=win32event.SetEvent, args=(auto,)).start()
    assert win32event.WaitForSingleObject(auto, 10_000) == win32event.WAIT_OBJECT_0
    assert win32event.WaitForSingleObject(auto, 0) == win32event.WAIT_TIMEOUT  # consumed
    manual = win32event.CreateEvent(None, 1, 1, None)
    assert win32event.WaitForMultipleObjects([auto, manual], 0, 0) == 1
    assert win32event.WaitForSingleObject(manual, 0) == win32event.WAIT_OBJECT_0  # still set
    win32event.ResetEvent(manual)
    assert win32event.WaitForSingleObject(manual, 0) == win32event.WAIT_TIMEOUT
    assert win32api.Sleep(1) == 0


#: What pywin32's win32/Demos/rastest.py does with -s -c ENTRY then -d ENTRY (dial with a
#: callback that sets an event, wait on it, hang up by name), in its own calls.
RASTEST_LIKE = """
import sys, win32event, win32ras
ev = win32event.CreateEvent(None, 0, 0, None)
states = {v: k[6:] for k, v in win32ras.__dict__.items() if k[:6] == "RASCS_"}
def cb(hras, msg, state, error, exterror):
    print("Status is %s (%04lx), error code is %d" % (states.get(state), state, error))
    if state == win32ras.RASCS_Connected or error:
        win32event.SetEvent(ev)
dp, b = win32ras.GetEntryDialParams(None, sys.argv[1])
hras, rc = win32ras.Dial(None, None, (sys.argv[1], "", "", dp[3], dp[4], ""), cb)
assert win32event.WaitForSingleObject(ev, 60000) == win32event.WAIT_OBJECT_0
for hcon, entryName, devName, devType in win32ras.EnumConnections():
    if entryName.lower() == sys.argv[1].lower():
        win32ras.HangUp(hcon)
        print("Disconnected from", sys.argv[1])
"""

#: pywin32's win32/scripts/rasutil.py -c: saved password required, Dial until the handle is
#: valid, win32api.Sleep between attempts.
RASUTIL_LIKE = """
import sys, win32api, win32ras
dial_params, have_pw = win32ras.GetEntryDialParams(None, sys.argv[1])
if not have_pw:
    print("Error: The password is not saved for this connection"); sys.exit(1)
print("Connecting to", sys.argv[1], "...")
for _ in range(3):
    rasHandle, errCode = win32ras.Dial(None, None, dial_params, None)
    if win32ras.IsHandleValid(rasHandle):
        break
    win32api.Sleep(50)
print("rc", errCode)
win32ras.HangUp(rasHandle)
"""


def test_pywin32_demo_shapes_run_through_the_shims(rasman, user_book, script_env, tmp_path):
    w.SetEntryDialParams(None, ("Secret", "", "", "bob", "s3cret", ""), 0)

    def run(code: str, *args: str) -> list[str]:
        p = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=script_env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert p.returncode == 0, p.stdout + p.stderr
        return p.stdout.splitlines()

    out = run(RASTEST_LIKE, "Demo")
    assert "Status is Connected (2000), error code is 0" in out
    assert out[-1] == "Disconnected from Demo"
    assert run(RASUTIL_LIKE, "Secret") == ["Connecting to Secret ...", "rc 0"]
