"""Files opened with a caller's credentials: the kernel decides, symlinks and races included."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from openras import asuser
from openras.links.base import Link

NOBODY = 65534
pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (to act as nobody)")


@pytest.fixture
def tree() -> Iterator[Path]:
    """A tree under /tmp (pytest's own tmp dirs sit in a 0700 directory of root's)."""
    tmp_path = Path(tempfile.mkdtemp(prefix="oras-asuser-"))
    tmp_path.chmod(0o755)
    try:
        yield _populate(tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _populate(tmp_path: Path) -> Path:
    (tmp_path / "pub").write_text("public\n")
    (tmp_path / "pub").chmod(0o644)
    priv = tmp_path / "priv"
    priv.mkdir(mode=0o700)
    (priv / "f").write_text("inside a 0700 directory\n")
    (priv / "f").chmod(0o644)
    (tmp_path / "link").symlink_to(priv / "f")
    return tmp_path


def test_reads_what_the_user_may_read(tree: Path):
    assert asuser.read_as(NOBODY, tree / "pub", 100) == b"public\n"


@pytest.mark.parametrize("rel", ["priv/f", "link", "/etc/shadow"])
def test_refuses_what_the_user_may_not(tree: Path, rel: str):
    with pytest.raises(PermissionError):
        asuser.read_as(NOBODY, tree / rel, 1 << 20)


def test_fifo_device_and_size_are_refused_without_blocking(tree: Path):
    fifo = tree / "fifo"
    os.mkfifo(fifo, 0o666)
    with pytest.raises(asuser.NotRegular):
        asuser.read_as(NOBODY, fifo, 100)
    with pytest.raises(asuser.NotRegular):
        asuser.read_as(NOBODY, "/dev/zero", 100)
    with pytest.raises(asuser.TooLarge):
        asuser.read_as(NOBODY, tree / "pub", 3)


def test_the_daemon_stays_root_in_every_other_thread(tree: Path):
    """While workers run as nobody, this thread still reads root-only files."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        while not stop.is_set():
            try:
                asuser.read_as(NOBODY, tree / "pub", 100)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(200):
            assert (tree / "priv" / "f").read_bytes().startswith(b"inside")
            assert os.getgroups() == asuser._root_groups or not asuser._root_groups
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert not errors


def test_swapping_a_file_for_a_symlink_never_leaks(tree: Path):
    """The race the emulated check lost about 1 time in 10: here the kernel decides at open."""
    target = tree / "swap"
    stop = threading.Event()

    def swapper() -> None:
        while not stop.is_set():
            tmp = tree / "swap.tmp"
            tmp.write_text("harmless\n")
            tmp.chmod(0o644)
            os.replace(tmp, target)
            ln = tree / "swap.ln"
            ln.unlink(missing_ok=True)
            ln.symlink_to("/etc/shadow")
            os.replace(ln, target)

    t = threading.Thread(target=swapper)
    t.start()
    seen = set()
    try:
        for _ in range(500):
            try:
                seen.add(asuser.read_as(NOBODY, target, 1 << 20))
            except (PermissionError, FileNotFoundError):
                seen.add(b"refused")
    finally:
        stop.set()
        t.join()
    assert seen <= {b"harmless\n", b"refused"}
    assert b"refused" in seen  # the race was really run


def test_files_created_as_the_user_are_theirs(tree: Path):
    d = tree / "mine"
    d.mkdir(mode=0o777)
    d.chmod(0o777)
    asuser.makedirs_as(NOBODY, d / "a" / "b")
    fd = asuser.open_as(NOBODY, d / "a" / "b" / "f", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    os.close(fd)
    assert (d / "a" / "b" / "f").stat().st_uid == NOBODY
    assert (d / "a").stat().st_uid == NOBODY


class _Entry:
    def __init__(self, value: str) -> None:
        self.value = value
        self.name = "x"

    def get(self, key: str, default: str | None = None) -> str | None:
        return self.value if key == "OpenRasKillDeadlineMs" else default


@pytest.mark.parametrize(
    ("raw", "deadline"),
    [
        ("300", 0.3),
        ("999999999999999", 10.0),
        ("abc", 10.0),
        ("²", 10.0),
        ("", 10.0),
        ("120000", 30.0),
    ],
)
def test_kill_deadline_is_capped_and_never_raises(raw: str, deadline: float):
    fake = type("L", (), {"spec": type("S", (), {"entry": _Entry(raw)})()})()
    fake.default_kill_deadline = Link.default_kill_deadline
    fake.MAX_KILL_DEADLINE = Link.MAX_KILL_DEADLINE
    assert Link.kill_deadline.fget(fake) == deadline
