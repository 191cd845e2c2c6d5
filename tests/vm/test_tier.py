"""The VM tier, seen from the host: one VM boot, every guest test reported as an item here.

The first item that needs the ``tier`` fixture boots the VM and runs the whole guest session
(``vmrun.run_tier``); each guest test then passes, fails (with its own output) or skips here
as it did there. ``test_vm_session`` fails when the VM gave no result, the guest session
failed outside any test, or it ran a test this side does not know.

Without qemu, vng or the kernel the tier skips with the reason; with ``CI=true`` it fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import vmrun

pytestmark = [
    pytest.mark.vm,
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.timeout(vmrun.TIER_TIMEOUT + 120),
]

GUEST_TESTS = vmrun.guest_test_ids()


def _unavailable(reason: str) -> None:
    if vmrun.in_ci():
        pytest.fail(f"the VM tier cannot run but CI=true (it must run in CI): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def tier(tmp_path_factory: pytest.TempPathFactory) -> vmrun.TierRun:
    """The one VM run of this session (booted by the first test that asks)."""
    missing = vmrun.missing_prerequisites()
    if missing:
        _unavailable("VM tier needs " + "; ".join(missing))
    rwdir: Path = tmp_path_factory.mktemp("vm-tier")
    return vmrun.run_tier(rwdir)


def test_vm_session(tier: vmrun.TierRun) -> None:
    """The VM booted, ran the guest session to its end, and every result is accounted for."""
    print(tier.summary())
    assert tier.done, (
        f"the VM gave no result (vng exit {tier.vng_rc}, "
        f"{'killed at the deadline' if tier.vng_rc is None else 'no done marker'}) "
        f"after {tier.wall_s:.0f} s; console:\n{tier.console[-6000:]}"
    )
    # 0: all passed, 1: some failed (reported per test below); anything else is the session's.
    assert tier.guest_rc in (0, 1), f"guest pytest exited {tier.guest_rc}:\n{tier.tail()}"
    known = set(GUEST_TESTS)
    unknown = [c.test_id for c in tier.cases if not any(c in tier.cases_for(t) for t in known)]
    assert not unknown, f"guest tests this side does not know: {unknown}"
    assert tier.cases, f"the guest ran no test:\n{tier.tail()}"


@pytest.mark.parametrize("guest_test", GUEST_TESTS)
def test_guest(tier: vmrun.TierRun, guest_test: str) -> None:
    """One guest test's outcome, as the guest session recorded it."""
    cases = tier.cases_for(guest_test)
    if not cases:
        pytest.fail(f"{guest_test} did not run in the VM; the guest said:\n{tier.tail()}")
    failed = [c for c in cases if c.outcome in ("failed", "error")]
    if failed:
        pytest.fail(
            "\n\n".join(f"{c.test_id} {c.outcome}: {c.message}\n{c.details}" for c in failed),
            pytrace=False,
        )
    if all(c.outcome == "skipped" for c in cases):
        _unavailable(f"skipped in the VM: {cases[0].message}")
    for c in cases:
        print(f"{c.test_id}: {c.outcome} in {c.seconds:.1f} s\n{c.details}")
