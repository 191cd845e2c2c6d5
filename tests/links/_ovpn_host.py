"""Runs one OpenVpnLink in this process and prints its events as JSON lines (test helper).

Started by tests inside the client namespace (``ip netns exec B python _ovpn_host.py``) to
play a daemon that dials and then dies (SIGKILL): the test then adopts the orphaned openvpn.
Reads the spec as one JSON object on stdin (so the password never appears in argv).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from openras.links.base import DialParams, LinkEvent, LinkSpec, StateReached
from openras.links.openvpn.driver import OpenVpnLink
from openras.manager.entries import EntrySnapshot


def say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def spec_from(cfg: dict[str, Any]) -> LinkSpec:
    return LinkSpec(
        handle=int(cfg["handle"]),
        owner_uid=0,
        entry=EntrySnapshot(name="VPN", keys=cfg["keys"], phonebook=cfg["phonebook"]),
        params=DialParams(entry_name="VPN", user=cfg["user"], password=cfg["password"]),
        run_dir=Path(cfg["run_dir"]),
        marker=f"test:{cfg['handle']}",
        phonebook=Path(cfg["phonebook"]),
    )


async def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    link: OpenVpnLink | None = None
    connected = asyncio.Event()

    def emit(ev: LinkEvent) -> None:
        say(
            {
                "event": type(ev).__name__,
                **{k: int(v) if k in ("state", "error") else v for k, v in vars(ev).items()},
            }
        )
        if isinstance(ev, StateReached) and ev.state.name == "Connected":
            connected.set()

    link = OpenVpnLink(spec_from(cfg), emit)
    await link.start()
    await asyncio.wait_for(connected.wait(), 20)
    say({"record": link.record()})
    await asyncio.Event().wait()  # until killed


if __name__ == "__main__":
    asyncio.run(main())
