"""Boot Debian's kernel under QEMU (TCG) with virtme-ng, run the guest tier in it, read results.

This machine's kernel has no PPP, L2TP, ESP or WireGuard; Debian's ``linux-image-amd64`` has
them as modules. ``vng --disable-kvm --run /boot/vmlinuz-V`` boots it over a read-only view of
the host's files (nested KVM hangs here, so TCG), runs one command as root and powers off.
The command is ``guest_run.sh``: one pytest session over ``tests/vm/guest``, whose junit XML,
output, exit status and a ``done`` marker (written last) land in a directory shared
read-write with the host (``--rwdir``). Everything else the guest writes is thrown away.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
GUEST_DIR = HERE / "guest"
GUEST_SCRIPT = HERE / "guest_run.sh"

#: Whole VM run (boot, the guest session, power-off); the guest tier takes about 2 min.
TIER_TIMEOUT = float(os.environ.get("OPENRAS_VM_TIMEOUT", "900"))


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _venv_bin() -> Path:
    return Path(sys.executable).parent


def _search_path() -> str:
    """PATH with this interpreter's bin directory first: ``vng`` runs ``virtme-run`` and
    friends from its own venv, which test.sh does not put on PATH."""
    return os.pathsep.join([str(_venv_bin()), os.environ.get("PATH", os.defpath)])


def _version_key(version: str) -> list[int | str]:
    return [int(p) if p.isdigit() else p for p in re.split(r"[.-]", version)]


def find_kernel() -> tuple[Path, str] | None:
    """The kernel image to boot and its version: ``OPENRAS_VM_KERNEL`` if set, else the
    newest ``/boot/vmlinuz-V`` whose modules are installed (``/lib/modules/V``)."""
    override = os.environ.get("OPENRAS_VM_KERNEL")
    candidates = [Path(override)] if override else list(Path("/boot").glob("vmlinuz-*"))
    found = [
        (image, image.name.removeprefix("vmlinuz-"))
        for image in candidates
        if image.is_file()
        and Path("/lib/modules", image.name.removeprefix("vmlinuz-"), "modules.dep").is_file()
    ]
    return max(found, key=lambda f: _version_key(f[1])) if found else None


def find_vng() -> str | None:
    return shutil.which("vng", path=_search_path())


def missing_prerequisites() -> list[str]:
    """Why the tier cannot run here (empty when it can); each names its fix."""
    missing = []
    if os.geteuid() != 0:
        missing.append("root (the guest runs as the host user and its tests make namespaces)")
    if shutil.which("qemu-system-x86_64") is None:
        missing.append("qemu-system-x86_64 (apt-get install qemu-system-x86)")
    if find_vng() is None:
        missing.append("vng (pip install virtme-ng, in the dev extras)")
    if find_kernel() is None:
        missing.append("a /boot/vmlinuz-V with /lib/modules/V (apt-get install linux-image-amd64)")
    if not any(shutil.which(b) for b in ("busybox-static", "busybox.static", "busybox")):
        missing.append(
            "a static busybox for virtme-ng's initramfs (apt-get install busybox-static)"
        )
    return missing


# -- which guest tests exist (read from the source, without importing it) ---------------------


def guest_test_ids() -> list[str]:
    """``module.py::test_name`` for every top-level test function of the guest tier.

    Read with ``ast`` so that the outer session can give each guest test its own item without
    importing modules that need the VM kernel. A parametrized guest test is one item here;
    its cases are all matched to it (see :func:`cases_for`).
    """
    ids = []
    for path in sorted(GUEST_DIR.glob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        ids.extend(
            f"{path.name}::{node.name}"
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test")
        )
    return ids


# -- running the VM ---------------------------------------------------------------------------


@dataclass
class Case:
    """One guest test case as junit recorded it."""

    module: str  # "test_x.py"
    name: str  # "test_y" or "test_y[param]"
    outcome: str  # passed | failed | error | skipped
    seconds: float
    message: str = ""
    details: str = ""

    @property
    def test_id(self) -> str:
        return f"{self.module}::{self.name}"


@dataclass
class TierRun:
    """What one VM run left behind."""

    kernel: str
    rwdir: Path
    wall_s: float
    vng_rc: int | None  # None: killed at the deadline
    done: bool
    guest_rc: int | None
    boot_s: float | None  # guest uptime when the tier script started
    guest_pytest_s: float | None
    output: str  # the guest pytest's own output
    console: str  # vng/kernel console (boot messages, errors before pytest)
    cases: list[Case] = field(default_factory=list)

    def summary(self) -> str:
        parts = [f"kernel {self.kernel}", f"VM wall {self.wall_s:.1f} s"]
        if self.boot_s is not None:
            parts.append(f"guest boot {self.boot_s:.1f} s")
        if self.guest_pytest_s is not None:
            parts.append(f"guest pytest {self.guest_pytest_s:.1f} s")
        parts.append(f"guest pytest rc {self.guest_rc}")
        return ", ".join(parts)

    def tail(self, lines: int = 60) -> str:
        """The end of whatever the guest said, for a failure message."""
        text = self.output or self.console
        return "\n".join(text.splitlines()[-lines:])

    def cases_for(self, test_id: str) -> list[Case]:
        """The cases of one guest test (all its parametrizations)."""
        module, name = test_id.split("::", 1)
        return [
            c
            for c in self.cases
            if c.module == module and (c.name == name or c.name.startswith(name + "["))
        ]


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _float(text: str) -> float | None:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        return None


def _said(captured: str) -> bool:
    """Whether junit's captured-output block holds more than pytest's empty section headers."""
    return any(line.strip() and not line.startswith("-----") for line in captured.splitlines())


def parse_junit(path: Path) -> list[Case]:
    """The test cases of a pytest junit XML file (empty if it is missing or torn)."""
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - our own guest session's output
    except (OSError, ET.ParseError):
        return []
    cases = []
    for tc in root.iter("testcase"):
        classname = tc.get("classname", "")
        module = classname.rsplit(".", 1)[-1] + ".py"
        outcome, message, details = "passed", "", []
        for child in tc:
            if child.tag in ("failure", "error", "skipped"):
                outcome = "failed" if child.tag == "failure" else child.tag
                message = child.get("message", "")
                details.append(child.text or "")
            elif child.tag in ("system-out", "system-err") and _said(child.text or ""):
                details.append(child.text or "")
        cases.append(
            Case(
                module=module,
                name=tc.get("name", ""),
                outcome=outcome,
                seconds=float(tc.get("time", "0") or 0),
                message=message,
                details="\n".join(details),
            )
        )
    return cases


#: This session's VM runs, for the terminal summary (tests/vm/conftest.py).
RUNS: list[TierRun] = []


def run_tier(rwdir: Path, *, timeout: float = TIER_TIMEOUT) -> TierRun:
    """Boot the VM once, run the whole guest tier in it, and collect what it left in
    ``rwdir``. Never raises for a guest failure: the caller reports what is there."""
    kernel = find_kernel()
    vng = find_vng()
    assert kernel is not None and vng is not None, missing_prerequisites()
    image, version = kernel
    rwdir.mkdir(parents=True, exist_ok=True)
    console_path = rwdir / "console.log"
    # OPENRAS_VM_GUEST_ARGS: extra pytest arguments for the guest session, for a developer
    # who runs one guest file (``tests/vm/guest/test_x.py``) instead of the whole tier.
    extra = shlex.split(os.environ.get("OPENRAS_VM_GUEST_ARGS", ""))
    command = shlex.join(["sh", str(GUEST_SCRIPT), str(rwdir), sys.executable, str(REPO), *extra])
    argv = [vng, "--disable-kvm", "--run", str(image), "--memory", "1G",
            "--rwdir", str(rwdir), "--verbose", "--exec", command]  # fmt: skip
    # vng's own temp files (a return-code file it shares with the guest) go next to rwdir, so
    # a VM killed at the deadline leaves nothing in /tmp.
    scratch = rwdir.with_name(rwdir.name + "-vng")
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "PATH": _search_path(), "TMPDIR": str(scratch)}
    t0 = time.monotonic()
    with open(console_path, "wb") as console:
        # Its own session, so a deadline stops vng and the qemu it started (by that id).
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=console,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            start_new_session=True,
        )
        vng_rc: int | None = None
        try:
            vng_rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        finally:  # also when pytest-timeout or ^C interrupts the wait: no VM outlives us
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
    wall = time.monotonic() - t0
    guest_rc = _float(_read(rwdir / "rc"))
    start, end = _float(_read(rwdir / "boot-uptime")), _float(_read(rwdir / "end-uptime"))
    run = TierRun(
        kernel=version,
        rwdir=rwdir,
        wall_s=wall,
        vng_rc=vng_rc,
        done=(rwdir / "done").exists(),
        guest_rc=None if guest_rc is None else int(guest_rc),
        boot_s=start,
        guest_pytest_s=None if start is None or end is None else end - start,
        output=_read(rwdir / "pytest.out"),
        console=_read(console_path),
        cases=parse_junit(rwdir / "junit.xml"),
    )
    RUNS.append(run)
    return run
