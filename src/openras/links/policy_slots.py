"""Policy routing slots: a routing table, an fwmark and two rule priorities per link.

A link that routes everything (or whose program installs routes in a table of its own, as
charon does) gets a slot the daemon allocates: never a fixed table shared by two links, and
never one the kernel shows in use (a rule with its priorities, table or mark; a route in its
table), so a link never takes over what another link or the administrator made.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from openras.errors import ERROR_IP_CONFIGURATION, RasError
from openras.links.rtnl import POLICY_SLOTS as POLICY_SLOTS
from openras.links.rtnl import POLICY_TABLE_BASE as POLICY_TABLE_BASE
from openras.links.rtnl import RT_TABLE_MAIN, AddRule, Rtnl

#: Rule priorities RULE_PRIORITY_BASE + 2 slot (+1), below main's 32766; tables and fwmarks
#: POLICY_TABLE_BASE + slot (openras.links.rtnl.DAEMON_TABLES).
RULE_PRIORITY_BASE: Final = 24000


@dataclass(frozen=True)
class PolicySlot:
    """The daemon's routing resources for one link's default route."""

    slot: int

    def __post_init__(self) -> None:
        if not 0 <= self.slot < POLICY_SLOTS:
            raise ValueError(f"policy slot {self.slot} out of range")

    @classmethod
    def first_for(cls, handle: int) -> PolicySlot:
        """Where the search for ``handle``'s slot starts."""
        return cls(handle % POLICY_SLOTS)

    def next(self) -> PolicySlot:
        return PolicySlot((self.slot + 1) % POLICY_SLOTS)

    @property
    def table(self) -> int:
        return POLICY_TABLE_BASE + self.slot

    @property
    def fwmark(self) -> int:
        return POLICY_TABLE_BASE + self.slot

    @property
    def priorities(self) -> tuple[int, int]:
        """(suppress rule priority, not-fwmark rule priority)."""
        return RULE_PRIORITY_BASE + 2 * self.slot, RULE_PRIORITY_BASE + 2 * self.slot + 1

    def rules(self, version: int) -> tuple[AddRule, AddRule]:
        """(not-fwmark rule, suppress rule) of one IP version, as plan_network adds them."""
        suppress_pri, mark_pri = self.priorities
        mark = self.fwmark
        return (
            AddRule(version, mark_pri, self.table, not_fwmark=mark),
            AddRule(version, suppress_pri, RT_TABLE_MAIN, not_fwmark=mark, suppress_prefixlength=0),
        )


#: Policy slots held by live links of this daemon: slot -> handle. Taken synchronously (no
#: await between the kernel check and the entry), released once a link's rules are removed.
_held_slots: dict[int, int] = {}


def _slot_in_use(slot: PolicySlot, rtnl: Rtnl, kernel_rules: Sequence[Any]) -> bool:
    pris = set(slot.priorities)
    if any(
        r.priority in pris or r.table == slot.table or r.fwmark == slot.fwmark for r in kernel_rules
    ):
        return True
    return any(rtnl.table_has_routes(v, slot.table) for v in (4, 6))


def allocate_policy_slot(handle: int) -> PolicySlot:
    """The first slot from ``handle``'s that no live link holds and the kernel shows unused
    (no rule with its priorities, table or fwmark; no route in its table); RasError(716)
    when every slot is taken. In the calling thread's network namespace."""
    slot = PolicySlot.first_for(handle)
    try:
        with Rtnl() as rtnl:
            kernel_rules = [*rtnl.rules(4), *rtnl.rules(6)]
            for _ in range(POLICY_SLOTS):
                if slot.slot not in _held_slots and not _slot_in_use(slot, rtnl, kernel_rules):
                    _held_slots[slot.slot] = handle
                    return slot
                slot = slot.next()
    except OSError as exc:
        raise RasError(ERROR_IP_CONFIGURATION, f"policy routing: {exc}") from None
    raise RasError(ERROR_IP_CONFIGURATION, "no free routing table for the default route")


def release_policy_slot(slot: int | None, handle: int) -> None:
    if slot is not None and _held_slots.get(slot) == handle:
        del _held_slots[slot]


def hold_policy_slot(slot: int, handle: int) -> None:
    """An adopted link's slot is this daemon's again."""
    _held_slots.setdefault(slot, handle)
