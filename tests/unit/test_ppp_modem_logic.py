"""A modem dial's log as RAS states and codes: chat's transcripts (recorded on Debian 12,
``chat -v -s`` with the daemon's script against the tests' AT emulator) and a connected
call's end as the server ends it."""

from __future__ import annotations

import pytest

from openras.errors import (
    ERROR_DISCONNECTION,
    ERROR_LINE_BUSY,
    ERROR_NO_ANSWER,
    ERROR_NO_DIALTONE,
    ERROR_PORT_OR_DEVICE,
    ERROR_PPP_LCP_TERMINATED,
    ERROR_REMOTE_DISCONNECTION,
)
from openras.links.ppp.interpreter import PppLog, classify_exit
from openras.states import RasConnState

_HEAD = (
    b"abort on (BUSY)\nabort on (NO CARRIER)\nabort on (NO DIALTONE)\n"
    b"abort on (NO DIAL TONE)\nabort on (NO ANSWER)\nabort on (ERROR)\n"
    b"timeout set to 5 seconds\nsend (ATZ^M)\nexpect (OK)\n"
)
_DIAL = (
    _HEAD + b"ATZ^M^M\nOK\n -- got it\n\nsend (ATDT5550100^M)\ntimeout set to 60 seconds\n"
    b"expect (CONNECT)\n^M\nATDT5550100^M^M\n"
)


@pytest.mark.parametrize(
    ("tail", "rc", "code"),
    [
        (b"BUSY\n -- failed\nFailed (BUSY)\nConnect script failed\n", 8, ERROR_LINE_BUSY),
        (b"NO DIALTONE\n -- failed\nFailed (NO DIALTONE)\n", 8, ERROR_NO_DIALTONE),
        (b"NO CARRIER\n -- failed\nFailed (NO CARRIER)\n", 8, ERROR_NO_ANSWER),
        (b"alarm\nFailed\nConnect script failed\n", 8, ERROR_NO_ANSWER),  # no CONNECT in time
    ],
)
def test_the_modems_answer_to_atdt(tail: bytes, rc: int, code: int) -> None:
    log = PppLog()
    states = log.feed(_DIAL + tail)
    assert states == [RasConnState.OpenPort, RasConnState.PortOpened, RasConnState.ConnectDevice]
    assert classify_exit(log, rc, connected=False)[0] == code


def test_a_modem_that_answers_nothing_is_692() -> None:
    log = PppLog()
    log.feed(_HEAD + b"alarm\nFailed\nConnect script failed\n")
    assert log.reached == RasConnState.ConnectDevice  # "send (ATZ" is talking to the modem
    assert classify_exit(log, 8, connected=False) == (
        ERROR_PORT_OR_DEVICE,
        "the modem does not respond (no OK to AT)",
    )


_CONNECTED = (
    _DIAL + b"CONNECT\n -- got it\n\nsend (^M)\nSerial connection established.\n"
    b"using channel 3\nUsing interface orppp7\nConnect: orppp7 <--> /dev/pts/3\n"
    b"rcvd [LCP ConfReq id=0x1 <asyncmap 0x0> <auth pap> <magic 0x1>]\n"
    b'sent [PAP AuthReq id=0x1 user="alice" password=<hidden>]\n'
    b'rcvd [PAP AuthAck id=0x1 ""]\nPAP authentication succeeded\n'
    b"sent [IPCP ConfReq id=0x1 <addr 0.0.0.0>]\n"
    b"local  IP address 10.236.44.2\nremote IP address 10.236.44.1\n"
    b"primary   DNS address 10.236.44.53\nScript /bin/true started (pid 4242)\n"
)


def test_an_answered_call_connects_with_pap() -> None:
    log = PppLog()
    # DeviceConnected at the modem's CONNECT (chat's " -- got it"), before pppd says so
    assert log.feed(_DIAL + b"CONNECT\n -- got it\n")[-1] == RasConnState.DeviceConnected
    log.feed(_CONNECTED[len(_DIAL) + len(b"CONNECT\n -- got it\n") :])
    assert log.projected and log.failure is None
    assert log.facts.auth_protocol == "PAP" and log.facts.device == "/dev/pts/3"


@pytest.mark.parametrize(
    ("tail", "rc", "code"),
    [
        # The server's pppd stopped (SIGTERM): it says goodbye with an LCP Terminate-Request.
        # Once connected that is the remote side closing the connection (629), not the
        # dial's LCP failing (734).
        (
            b'rcvd [LCP TermReq id=0x2 "User request"]\nLCP terminated by peer (User request)\n'
            b"sent [LCP TermAck id=0x2]\nModem hangup\nConnection terminated.\n",
            16,
            ERROR_REMOTE_DISCONNECTION,
        ),
        # The server vanished (SIGKILL) and the modem hung up the line: 628.
        (b"Hangup (SIGHUP)\nModem hangup\nConnection terminated.\n", 16, ERROR_DISCONNECTION),
        (b"Hangup (SIGHUP)\nConnection terminated.\n", 16, ERROR_DISCONNECTION),
    ],
)
def test_a_connected_call_the_server_ends(tail: bytes, rc: int, code: int) -> None:
    log = PppLog()
    log.feed(_CONNECTED + tail)
    assert classify_exit(log, rc, connected=True)[0] == code


def test_lcp_terminated_while_dialing_stays_734() -> None:
    log = PppLog()
    log.feed(_DIAL + b"CONNECT\n -- got it\nLCP terminated by peer\n")
    assert classify_exit(log, 16, connected=False)[0] == ERROR_PPP_LCP_TERMINATED
