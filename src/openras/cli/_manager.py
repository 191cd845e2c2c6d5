"""``openras manager``: which connection manager this command talks to, and what it can do.

The same choice every command makes (``--socket``, ``$OPENRAS_SOCKET``, else the system
manager when it answers, else the user's own), but nothing is started: the answer is what
runs now. Who serves the socket comes from the kernel (SO_PEERCRED), not from the daemon.
"""

from __future__ import annotations

import socket
import struct
from argparse import Namespace
from pathlib import Path

from openras import errors, paths
from openras.cli._common import emit_json
from openras.cli.rasdial_output import EXIT_SUCCESS, exit_status
from openras.wire import protocol as P

ENABLE_HINT = "sudo systemctl enable --now openras"


def cmd_manager(args: Namespace) -> int:
    from openras.wire.transport import connect

    try:
        t = connect(
            Path(args.socket) if args.socket else None, autostart=False, timeout=args.timeout
        )
    except (errors.ManagerUnavailable, OSError) as exc:
        detail = exc.detail if isinstance(exc, errors.RasError) else str(exc)
        if args.json:
            emit_json({"kind": None, "detail": detail})
        else:
            print(f"No connection manager answers ({detail}).")
            print(f"The system one, which can make tunnels: {ENABLE_HINT}")
            print("Without it, the first command that needs one starts your own per-user one.")
        return exit_status(errors.ManagerUnavailable.code)
    try:
        creds = t.sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _gid = struct.unpack("3i", creds)
        info = t.call(P.PING)
    finally:
        t.close()
    kind = "system" if uid == 0 else "per-user"
    doc = {
        "kind": kind,
        "pid": pid,
        "uid": uid,
        "socket": str(t.path),
        "version": info.get("version", ""),
        "system_socket": str(paths.system_socket()),
    }
    if args.json:
        emit_json(doc)
        return EXIT_SUCCESS
    if kind == "system":
        print(f"the system connection manager: rasman pid {pid} (root) on {t.path}")
        print("It runs every link the administrator's policy allows you.")
    else:
        print(f"your per-user connection manager: rasman pid {pid} on {t.path}")
        print("It runs only links that need no root (loopback, ssh SOCKS); for tunnels:")
        print(f"  {ENABLE_HINT}   (then every user's client uses {paths.system_socket()})")
        print(f"Stop it with: kill {pid}")
    return EXIT_SUCCESS
