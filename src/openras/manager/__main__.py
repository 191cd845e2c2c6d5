"""``rasman``: the openras connection manager daemon."""

from __future__ import annotations

import sys

if "asyncio" not in sys.modules and "ssl" not in sys.modules:
    # The daemon speaks no TLS through asyncio, which imports ssl if it can (with libssl,
    # about 4 MB of the daemon's memory): hidden while asyncio loads. A driver that checks
    # a certificate itself (SSTP's pre-check, in a worker thread) still imports it as usual.
    sys.modules["ssl"] = None  # type: ignore[assignment]
    try:
        import asyncio
    finally:
        del sys.modules["ssl"]

import argparse
import asyncio
import contextlib
import fcntl
import logging
import logging.handlers
import os
import queue
import signal
from pathlib import Path

from openras import __version__, errors, paths
from openras.manager.server import AlreadyRunning, Server
from openras.manager.service import Manager


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rasman",
        description="openras connection manager: owns every RAS connection so links outlive the apps that dial them.",
    )
    parser.add_argument(
        "--socket",
        type=Path,
        help=f"listen here (default: ${paths.SOCKET_ENV} or {paths.default_socket()})",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        help=f"persist the table here (default: {paths.default_state_dir()})",
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument("--version", action="version", version=f"rasman {__version__}")
    return parser


LOCK_FILE = "rasman.lock"


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; return the soft limit now in force.

    Each client session is a descriptor, and the daemon serves every local user: the default
    soft limit (1024) would let a few users' clients fill the table. The per-uid session quota
    (openras.manager.quota) is what keeps one user from taking it; the server keeps a reserve
    below this limit for links, pipes and files.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and (hard == resource.RLIM_INFINITY or soft < hard):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass  # a hard limit the kernel caps lower (nr_open): keep the soft one
    return soft


def lock_state_dir(state_dir: Path) -> int:
    """Take ``state_dir/rasman.lock`` (flock, non-blocking) for this process's lifetime.

    Two daemons on one state dir would adopt, and kill, each other's links. The lock dies
    with the process (even on SIGKILL), so a crashed daemon never blocks its successor.
    """
    state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
        os.close(fd)
        raise AlreadyRunning(
            f"another rasman (pid {holder}) is running on state dir {state_dir}"
        ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


async def serve(socket_path: Path, state_dir: Path) -> None:
    lock_fd = lock_state_dir(state_dir)
    try:
        await _serve_locked(socket_path, state_dir)
    finally:
        os.close(lock_fd)


async def _serve_locked(socket_path: Path, state_dir: Path) -> None:
    Server.check_socket_free(socket_path)  # before adopting anything
    manager = Manager(state_dir)
    await manager.start()
    server = Server(manager, socket_path)
    await server.start()
    logging.getLogger("openras.rasman").info(
        "listening on %s (state in %s)", socket_path, state_dir
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _notify_ready()
    await stop.wait()
    await server.close()
    await manager.shutdown()


def _notify_ready() -> None:
    """sd_notify READY=1 when run by systemd with Type=notify."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    import socket

    if addr.startswith("@"):
        addr = "\0" + addr[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.connect(addr)
        sock.sendall(b"READY=1")


def _log_off_the_loop(level: str) -> logging.handlers.QueueListener:
    """Log through a queue: the event loop only enqueues a record, and a thread formats and
    writes it to stderr (a pipe or the journal). A dial logs each state change, and a write
    per line in the loop held up the very replies it was logging."""
    # A record no longer looks up its caller's frame, thread or process (the format shows
    # none of them; the pid is written into it): a sparse log call in the loop took 110 us
    # of CPU, 65 without (a dial logs on its way to the spawn and to Connected).
    logging._srcfile = None  # the logging HOWTO's "Optimization" switches
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s rasman[{os.getpid()}] %(levelname)s %(message)s")
    )
    records: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    root = logging.getLogger()
    root.setLevel(level.upper())
    root.addHandler(logging.handlers.QueueHandler(records))
    listener = logging.handlers.QueueListener(records, handler)
    listener.start()
    return listener


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    listener = _log_off_the_loop(args.log_level)
    socket_path = args.socket or paths.default_socket()
    state_dir = args.state_dir or paths.default_state_dir()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    nofile = raise_fd_limit()
    logging.getLogger("openras.rasman").debug("descriptor limit: %d", nofile)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(socket_path, state_dir))
    except AlreadyRunning as exc:
        print(f"rasman: {exc}; not starting", file=sys.stderr)
        sys.exit(3)
    except errors.RasError as exc:
        print(f"rasman: {exc}", file=sys.stderr)
        sys.exit(1)
    finally:
        listener.stop()  # everything logged is written before the process ends


if __name__ == "__main__":
    main()
