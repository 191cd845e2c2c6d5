"""links/progress.py: what every driver's interpreter shares."""

from __future__ import annotations

from pathlib import Path

from openras.links.progress import DIAL_ORDER, Failure, LogTail, Progress, keep_failure
from openras.states import RasConnState as S


def test_progress_reports_each_state_once_in_order() -> None:
    p = Progress()
    assert p.advance(S.ConnectDevice) == [S.OpenPort, S.PortOpened, S.ConnectDevice]
    assert p.advance(S.PortOpened) == []  # behind: nothing
    assert p.advance(S.ConnectDevice) == []  # again: nothing
    assert p.advance(S.Authenticated) == [S.DeviceConnected, S.Authenticate, S.Authenticated]
    assert p.passed(S.DeviceConnected) and not p.passed(S.Projected)
    assert p.reached is S.Authenticated
    assert list(DIAL_ORDER)[-1] is S.Connected


def test_progress_in_a_shorter_order_skips_what_it_does_not_know() -> None:
    p = Progress((S.ConnectDevice, S.Authenticated, S.Connected))
    assert p.advance(S.OpenPort) == []  # not in this order
    assert p.advance(S.Connected) == [S.ConnectDevice, S.Authenticated, S.Connected]
    assert not Progress().passed(S.OpenPort)  # nothing reached yet


def test_the_first_failure_is_kept_unless_a_sticky_one_explains_better() -> None:
    sticky = {691}
    f = keep_failure(None, 809, "no answer", sticky)
    assert f == Failure(809, "no answer")
    assert keep_failure(f, 629, "later", sticky) is f  # the first stays
    g = keep_failure(f, 691, "password refused", sticky)
    assert g == Failure(691, "password refused")  # a sticky one replaces it
    assert keep_failure(g, 691, "again", sticky) is g  # and is never replaced


def test_log_tail_reads_what_is_new_and_keeps_a_line_being_written(tmp_path: Path) -> None:
    log = tmp_path / "charon.log"
    tail = LogTail(log)
    assert tail.lines() == [] and tail.read() == b""  # no file yet
    log.write_bytes(b"one\ntw")
    assert tail.lines() == ["one"]
    with open(log, "ab") as fh:
        fh.write(b"o\nthree\n")
    assert tail.lines() == ["two", "three"]
    assert tail.lines() == []
