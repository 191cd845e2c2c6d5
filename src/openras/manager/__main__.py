"""``rasman``: the openras connection manager daemon."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path

from openras import __version__, paths
from openras.manager.server import Server
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


async def serve(socket_path: Path, state_dir: Path) -> None:
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


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s rasman[%(process)d] %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    socket_path = args.socket or paths.default_socket()
    state_dir = args.state_dir or paths.default_state_dir()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(socket_path, state_dir))


if __name__ == "__main__":
    main()
