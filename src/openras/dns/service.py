"""The daemon's DNS keeper: plans a connected link's DNS, journals it, applies it, and undoes it.

Every change is journalled **before** it is made (``<state dir>/dns/link-<handle>.json``, the
link's plan and the backend it went to), and the journal is removed only once the change is
undone, so a daemon killed at any moment leaves nothing behind for good: on the next start
:meth:`DnsService.recover` undoes every journal whose link was not adopted. The journal lives in
the daemon's state dir, not the link's run dir (drivers delete that).

A DNS failure never ends a link: it is logged and reported in the projection's ``extra``
(``dns_error``). Operations are serialized (one lock), so several links compose.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from openras.dns import backends
from openras.dns.backends import Applied, Backend, NoBackend
from openras.dns.plan import EntryKeys, domains_of, plan_dns
from openras.links.base import Projection
from openras.links.rtnl import Rtnl, if_index

log = logging.getLogger("openras.rasman.dns")

_JOURNAL: Final = re.compile(r"link-(\d{1,18})\.json")


def routes_everything(ifname: str) -> bool:
    """Whether routes through ``ifname`` (any table) cover a whole address family: a default
    route, or the halves ``0/1`` + ``128/1`` that OpenVPN's ``redirect-gateway def1`` adds."""
    index = if_index(ifname)
    if index is None:
        return False
    try:
        with Rtnl() as rtnl:
            for version in (4, 6):
                nets = rtnl.device_routes(version, index)
                if any(n.prefixlen == 0 for n in nets):
                    return True
                halves = {
                    int(n.network_address) >> (n.max_prefixlen - 1)
                    for n in nets
                    if n.prefixlen == 1
                }
                if halves == {0, 1}:
                    return True
    except OSError:
        return False
    return False


class DnsService:
    def __init__(self, store: Path, env: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.env = dict(os.environ if env is None else env)
        self.backend: Backend = NoBackend()
        self._lock = asyncio.Lock()
        #: handle -> what is applied (mirrors the journals).
        self._applied: dict[int, Applied] = {}
        #: handle -> an apply in flight (a revert cancels it).
        self._applying: dict[int, asyncio.Task[None]] = {}
        #: handle -> the projection's extra keys (dns_backend, dns_error).
        self._status: dict[int, dict[str, str]] = {}

    # ---------------------------------------------------------------- start and recovery

    async def start(self) -> None:
        self.store.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.backend = await backends.choose(self.store, self.env)
        log.info("DNS backend: %s", self.backend.name)
        for path in sorted(self.store.iterdir()):
            m = _JOURNAL.fullmatch(path.name)
            if m is None:
                continue
            try:
                rec = json.loads(path.read_bytes())
                item = Applied.from_record(rec)
            except (OSError, ValueError, KeyError, TypeError):
                log.warning("DNS journal %s unreadable; removed", path.name)
                path.unlink(missing_ok=True)
                continue
            if item.handle != int(m.group(1)):
                path.unlink(missing_ok=True)
                continue
            self._applied[item.handle] = item

    async def recover(self, keep: set[int]) -> None:
        """After a restart: undo the DNS of every journalled link not in ``keep`` (adopted
        links keep theirs)."""
        for handle in sorted(self._applied):
            if handle not in keep:
                log.info("handle %d: undoing the DNS its link left", handle)
                await self.revert(handle)

    # ---------------------------------------------------------------- the journal

    def _journal(self, handle: int) -> Path:
        return self.store / f"link-{handle}.json"

    def _write_journal(self, item: Applied) -> None:
        path = self._journal(item.handle)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, json.dumps(item.to_record()).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)

    def _backend_for(self, item: Applied) -> Backend:
        if item.backend == self.backend.name:
            return self.backend
        return backends.make(item.backend, self.store, self.env)

    def _live(self, backend: str, but: int | None = None) -> list[Applied]:
        return [a for h, a in sorted(self._applied.items()) if a.backend == backend and h != but]

    # ---------------------------------------------------------------- apply and revert

    @property
    def enabled(self) -> bool:
        return not isinstance(self.backend, NoBackend)

    def status(self, handle: int) -> dict[str, str]:
        """Keys for the projection's ``extra``."""
        return dict(self._status.get(handle, {}))

    def apply_soon(
        self, handle: int, projection: Any, entry: EntryKeys, *, may_take_all: bool
    ) -> asyncio.Task[None]:
        """Start applying the DNS of ``handle``'s link; ``projection`` is the link's
        ``projection`` method. The task never raises (failures go to :meth:`status`)."""
        old = self._applying.pop(handle, None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(
            self._apply(handle, projection, entry, may_take_all)
        )
        self._applying[handle] = task
        task.add_done_callback(lambda t: self._done(handle, t))
        return task

    def _done(self, handle: int, task: asyncio.Task[None]) -> None:
        if self._applying.get(handle) is task:
            del self._applying[handle]

    async def _apply(
        self, handle: int, projection: Any, entry: EntryKeys, may_take_all: bool
    ) -> None:
        try:
            await asyncio.sleep(0)  # what the driver scheduled with its Connected runs first
            proj: Projection | None = await projection()
            if proj is None or not proj.interface or not proj.dns:
                self._status.pop(handle, None)
                return
            full = await asyncio.to_thread(routes_everything, proj.interface)
            plan = plan_dns(
                interface=proj.interface,
                pushed_servers=proj.dns,
                pushed_domains=domains_of(proj.extra),
                entry=entry,
                routes_everything=full,
                may_take_all=may_take_all,
            )
            if not plan:
                self._status.pop(handle, None)
                return
            ifindex = if_index(proj.interface) or 0
            item = Applied(handle, self.backend.name, plan, ifindex)
            async with self._lock:
                previous = self._applied.get(handle)
                if previous is not None and previous != item:
                    await self._revert_locked(previous)
                self._write_journal(item)  # before anything changes
                self._applied[handle] = item
                await asyncio.wait_for(
                    self.backend.apply(item, self._live(item.backend)), backends.OP_TIMEOUT * 2
                )
            self._status[handle] = {"dns_backend": self.backend.name}
            log.info(
                "handle %d: DNS applied (%s): %d server(s) on %s, %s",
                handle,
                self.backend.name,
                len(plan.servers),
                plan.interface,
                "every lookup" if plan.default_route else "its domains only",
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = str(exc) or type(exc).__name__
            log.warning("handle %d: DNS not applied (%s): %s", handle, self.backend.name, why)
            self._status[handle] = {"dns_backend": self.backend.name, "dns_error": why[:300]}

    async def revert(self, handle: int) -> None:
        """Undo ``handle``'s DNS (idempotent; never raises). Cancels an apply in flight."""
        task = self._applying.pop(handle, None)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
        self._status.pop(handle, None)
        async with self._lock:
            item = self._applied.get(handle)
            if item is not None:
                await self._revert_locked(item)

    async def _revert_locked(self, item: Applied) -> None:
        backend = self._backend_for(item)
        try:
            await asyncio.wait_for(
                backend.revert(item, self._live(item.backend, but=item.handle)),
                backends.OP_TIMEOUT * 2,
            )
        except Exception as exc:
            # The journal stays: the next start tries again.
            log.warning("handle %d: DNS not reverted (%s): %s", item.handle, backend.name, exc)
            return
        self._applied.pop(item.handle, None)
        self._journal(item.handle).unlink(missing_ok=True)
        log.info("handle %d: DNS reverted (%s)", item.handle, backend.name)


__all__ = ["DnsService", "routes_everything"]
