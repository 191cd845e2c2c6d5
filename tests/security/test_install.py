"""The system-wide install the README tells people to use: ``sudo scripts/install.sh``.

It runs for real, at the real paths (/opt/openras, /usr/local/bin, /etc/systemd/system,
/etc/openras), inside a private mount namespace whose /etc, /opt, /usr/local, /var/lib and
/run are overlays: the installer and everything it starts see the machine's files and write
into a scratch directory, so the machine itself is never changed. The daemon is then started
exactly as the installed unit says (its ExecStart, with the directories, environment,
readiness protocol and capability bounding set systemd would give it), and a plain local
user runs the installed commands from PATH with no openras variable set.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [pytest.mark.root, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
INSTALL = REPO / "scripts" / "install.sh"
#: Overlaid in the namespace: where the installer writes, and where systemd would keep the
#: service's directories.
OVERLAID = ("/etc", "/opt", "/usr/local", "/var/lib", "/run")
COMMANDS = ("rasman", "rasdial", "openras", "rasphone")
UNIT = "/etc/systemd/system/openras.service"
#: systemd's PATH for services.
SERVICE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OPENRAS_MAIN = "import sys; from openras.cli.openras import main; sys.exit(main(sys.argv[1:]))"


def _wait_for(what: str, check, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@dataclass
class Namespace:
    """A mount namespace (held open by one process) with OVERLAID paths made writable into
    ``scratch``; ``run`` runs a command inside it."""

    holder: subprocess.Popen[bytes]
    scratch: Path
    pip_cache: Path

    @property
    def pid(self) -> int:
        return self.holder.pid

    def path(self, p: str) -> Path:
        """``p`` as seen inside the namespace (for reading from the test)."""
        return Path(f"/proc/{self.pid}/root{p}")

    def upper(self, p: str) -> Path:
        """What the namespace wrote under the overlaid directory ``p``."""
        return self.scratch / p.strip("/").replace("/", "_") / "upper"

    def argv(self, *cmd: str) -> list[str]:
        return ["nsenter", f"--target={self.pid}", "--mount", "--", *cmd]

    def run(self, *cmd: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` as root in the namespace, with an administrator's environment."""
        return subprocess.run(
            self.argv(*cmd),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=_root_env(self.pip_cache),
            cwd="/",
        )

    def install(self, *args: str, src: Path = REPO) -> subprocess.CompletedProcess[str]:
        proc = self.run("bash", str(src / "scripts" / "install.sh"), *args)
        assert proc.returncode == 0, f"install.sh {args}: {proc.stdout}\n{proc.stderr}"
        return proc


def _root_env(pip_cache: Path) -> dict[str, str]:
    """An administrator's environment: no openras variable (the conftest sets them all), and
    pip's cache in the test's scratch directory rather than root's home."""
    keep = ("HOME", "LANG", "TERM", "PIP_CERT", "PIP_FIND_LINKS", "PIP_DEFAULT_TIMEOUT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(PATH=SERVICE_PATH, PIP_CACHE_DIR=str(pip_cache))
    return env


def _mnt_ns(pid: int | str) -> str:
    return os.readlink(f"/proc/{pid}/ns/mnt")


def _processes_in(ns: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                if _mnt_ns(entry) == ns:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


@pytest.fixture(scope="module")
def pip_cache() -> Iterator[Path]:
    """One pip cache for this module's installs (the dependencies are fetched once)."""
    d = Path(tempfile.mkdtemp(prefix="oras-pip-"))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ns(pip_cache: Path) -> Iterator[Namespace]:
    for tool in ("unshare", "nsenter", "setpriv", "useradd"):
        if not shutil.which(tool):
            pytest.skip(f"needs {tool}")
    if os.geteuid() != 0:
        pytest.skip("needs root")
    scratch = Path(tempfile.mkdtemp(prefix="oras-install-"))
    scratch.chmod(0o755)
    holder = subprocess.Popen(
        ["unshare", "--mount", "--propagation", "private", "sleep", "infinity"],
        stdin=subprocess.DEVNULL,
    )
    space = Namespace(holder, scratch, pip_cache)
    mine = _mnt_ns(os.getpid())
    ns_id = None
    try:
        _wait_for("the namespace", lambda: _mnt_ns(holder.pid) != mine)
        ns_id = _mnt_ns(holder.pid)
        script = []
        for d in OVERLAID:
            base = scratch / d.strip("/").replace("/", "_")
            (base / "upper").mkdir(parents=True)
            (base / "work").mkdir()
            script.append(
                f"mount -t overlay overlay -o lowerdir={d},upperdir={base}/upper,"
                f"workdir={base}/work {d}"
            )
        # Where systemd runs, the installer would enable the unit in the machine's systemd:
        # here it must see a machine without it (and say how to start rasman instead).
        script.append("if [ -d /run/systemd ]; then mount -t tmpfs none /run/systemd; fi")
        # ProtectSystem=true, for the installer and the daemon alike (/usr/local overlaid
        # on top stays writable for the installer).
        script[:0] = ["mount --bind /usr /usr", "mount -o remount,bind,ro /usr /usr"]
        proc = space.run("sh", "-ec", "\n".join(script))
        if proc.returncode != 0:
            pytest.skip(f"no overlay mounts here: {proc.stderr.strip()}")
        yield space
    finally:
        holder.kill()
        holder.wait()
        # Whatever still runs in the namespace (a daemon, a link) was started by this test.
        for pid in _processes_in(ns_id) if ns_id else []:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture
def installed(ns: Namespace) -> Namespace:
    proc = ns.install()
    assert "systemd is not running here" in proc.stdout
    assert "/opt/openras/bin/rasman" in proc.stdout  # ... and how to start the manager
    return ns


def unit_settings(text: str) -> dict[str, str]:
    """The [Service] section's settings (the last one wins, as systemd reads them)."""
    section, out = "", {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line
        elif section in ("[Service]", "[Unit]"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


@dataclass
class Daemon:
    proc: subprocess.Popen[bytes]
    log: Path


@pytest.fixture
def unit_daemon(installed: Namespace) -> Iterator[Daemon]:
    """rasman started as the installed unit says, in the namespace."""
    ns = installed
    unit = unit_settings(ns.path(UNIT).read_text())
    assert unit["Type"] == "notify"
    exec_start = unit["ExecStart"].split()
    runtime = Path("/run") / unit["RuntimeDirectory"]
    state = Path("/var/lib") / unit["StateDirectory"]
    for d in (runtime, state):  # systemd makes them root's, 0755
        ns.path(str(d)).mkdir(mode=0o755, exist_ok=True)
    notify_path = ns.scratch / "notify.sock"  # /tmp is the same inside and out
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(notify_path))
    caps = ",".join(
        "+" + c.removeprefix("CAP_").lower() for c in unit["CapabilityBoundingSet"].split()
    )
    wrapper = ["setpriv", f"--bounding-set=-all,{caps}"]
    if unit.get("NoNewPrivileges") == "yes":
        wrapper.append("--no-new-privs")
    env = {
        "PATH": SERVICE_PATH,
        "LANG": "C.UTF-8",
        "RUNTIME_DIRECTORY": str(runtime),
        "STATE_DIRECTORY": str(state),
        "NOTIFY_SOCKET": str(notify_path),
    }
    log = ns.scratch / "rasman.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ns.argv(*wrapper, *exec_start),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd="/",
        )
    try:
        notify.settimeout(30)
        try:
            ready = notify.recv(4096)
        except TimeoutError:
            raise AssertionError(f"no READY=1 from rasman: {log.read_text()}") from None
        assert b"READY=1" in ready.split(b"\n")
        assert ns.path(f"{runtime}/rasman.sock").exists()
        yield Daemon(proc, log)
    finally:
        notify.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_the_installer_puts_everything_where_the_readme_says(installed: Namespace) -> None:
    ns = installed
    for c in COMMANDS:
        link = ns.path(f"/usr/local/bin/{c}")
        assert os.readlink(link) == f"/opt/openras/bin/{c}"
        assert os.access(ns.path(f"/opt/openras/bin/{c}"), os.X_OK)
    unit = unit_settings(ns.path(UNIT).read_text())
    assert unit["ExecStart"] == "/opt/openras/bin/rasman"
    doc = unit["Documentation"]
    assert doc.startswith("file:")
    assert ns.path(doc.removeprefix("file:")).read_text() == (REPO / "README.md").read_text()
    assert ns.path("/usr/local/share/doc/openras/docs/links.md").is_file()
    policy = ns.path("/etc/openras/policy.conf")
    assert policy.read_bytes() == (REPO / "packaging" / "policy.conf").read_bytes()
    assert policy.stat().st_mode & 0o777 == 0o644
    assert ns.path("/etc/openras/known_hosts").is_dir()
    # The system daemon runs the venv's code, not the work tree's: a non-editable install.
    proc = ns.run("/opt/openras/bin/python", "-c", "import openras; print(openras.__file__)")
    assert proc.stdout.startswith("/opt/openras/lib/"), proc.stdout + proc.stderr
    # Nothing outside the places it names (the overlays saw every write).
    written = {d: sorted(p.name for p in ns.upper(d).iterdir()) for d in OVERLAID if d != "/run"}
    assert written == {
        "/etc": ["openras", "systemd"],
        "/opt": ["openras"],
        "/usr/local": ["bin", "share"],
        "/var/lib": [],
    }


def test_systemd_analyze_verifies_the_installed_unit(installed: Namespace) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("no systemd-analyze")
    proc = installed.run("systemd-analyze", "verify", UNIT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stderr.strip() == "", proc.stderr  # no warning either
    # ... and it would say so: a unit whose ExecStart is missing fails.
    broken = installed.path("/etc/systemd/system/openras-broken.service")
    broken.write_text(
        installed.path(UNIT).read_text().replace("/opt/openras/bin/rasman", "/opt/nope/rasman")
    )
    proc = installed.run("systemd-analyze", "verify", "/etc/systemd/system/openras-broken.service")
    assert proc.returncode != 0 and "/opt/nope/rasman" in proc.stdout + proc.stderr


def test_a_plain_user_dials_through_the_installed_system_daemon(
    attacker, installed: Namespace, unit_daemon: Daemon
) -> None:
    # (The user first: an account added after the namespace's /etc overlay is mounted may
    # not show through it.)
    ns = installed
    user = attacker
    run_dir = user.home / "run"
    user.write(
        ".config/openras/rasphone.pbk",
        "[Demo]\nOpenRasDevice=loopback\nOpenRasLoopbackStepMs=5\n",
    )
    run_dir.mkdir(mode=0o700)
    os.chown(run_dir, user.uid, user.gid)
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(user.home),
        "LANG": "C.UTF-8",
        "XDG_RUNTIME_DIR": str(run_dir),
    }

    def as_user(*cmd: str) -> subprocess.CompletedProcess[str]:
        setpriv = ("setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups")
        return subprocess.run(
            ns.argv(*setpriv, *cmd),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
            cwd=str(user.home),
        )

    proc = as_user("openras", "manager", "--json")
    assert proc.returncode == 0, proc.stderr
    who = json.loads(proc.stdout)
    assert who["kind"] == "system" and who["uid"] == 0
    assert who["pid"] == unit_daemon.proc.pid  # nsenter execs: this is rasman itself
    assert who["socket"] == "/run/openras/rasman.sock"
    text = as_user("openras", "manager")
    assert f"system connection manager: rasman pid {unit_daemon.proc.pid}" in text.stdout

    proc = as_user("rasdial")
    assert proc.returncode == 0 and "No connections" in proc.stdout, proc.stdout + proc.stderr
    proc = as_user("rasdial", "Demo")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = as_user("openras", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    [conn] = json.loads(proc.stdout)
    assert conn["entry"] == "Demo" and conn["owner"] == user.uid
    proc = as_user("rasdial", "Demo", "/DISCONNECT")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = as_user("openras", "list", "--json")
    assert json.loads(proc.stdout) == []
    # It was the system daemon all along: the user never got one of their own.
    assert not (run_dir / "openras").exists()
    assert unit_daemon.proc.poll() is None


def _copy_source(dest: Path) -> Path:
    for name in ("src", "docs", "packaging", "scripts"):
        shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, dest / name)
    return dest


def test_reinstalling_is_idempotent_and_keeps_the_administrators_policy(
    installed: Namespace,
) -> None:
    ns = installed
    policy = ns.path("/etc/openras/policy.conf")
    shipped = (REPO / "packaging" / "policy.conf").read_text()

    def layout() -> dict[str, object]:
        """Every file and link written under /etc and /usr/local, with its content."""
        out: dict[str, object] = {}
        for d in ("/etc", "/usr/local"):
            for p in ns.upper(d).rglob("*"):
                key = f"{d}/{p.relative_to(ns.upper(d))}"
                if p.is_symlink():
                    out[key] = os.readlink(p)
                elif p.is_file():
                    out[key] = (p.read_bytes(), p.stat().st_mode)
        return out

    before = layout()
    assert "/etc/openras/policy.conf" in before and "/usr/local/bin/rasdial" in before
    ns.install()
    assert layout() == before  # twice is the same as once

    # The administrator edits the policy; an upgrade keeps it and offers its own beside it.
    edited = shipped + "\n[user:alice]\ndevices = *\n"
    policy.write_text(edited)
    newer = _copy_source(ns.scratch / "newer-src")
    (newer / "packaging" / "policy.conf").write_text(shipped + "\n# a newer default\n")
    proc = ns.install(src=newer)
    assert "kept your edited /etc/openras/policy.conf" in proc.stdout
    assert policy.read_text() == edited
    assert ns.path("/etc/openras/policy.conf.new").read_text() == shipped + "\n# a newer default\n"

    # Back to an untouched default: the next upgrade replaces it, and the .new goes.
    policy.write_text(shipped + "\n# a newer default\n")
    ns.install(src=newer)  # records this one as installed
    assert not ns.path("/etc/openras/policy.conf.new").exists()
    proc = ns.install()  # "upgrade" to the repo's default: the untouched file follows
    assert "kept your edited" not in proc.stdout
    assert policy.read_text() == shipped


def _leftovers(ns: Namespace, dirs: tuple[str, ...]) -> list[str]:
    """What the namespace wrote under ``dirs`` and did not remove: every file, and every
    directory the machine does not have (a directory the machine has is only copied up)."""
    left = []
    for d in dirs:
        upper = ns.upper(d)
        for p in upper.rglob("*"):
            real = Path(d) / p.relative_to(upper)
            if p.is_dir() and not p.is_symlink() and real.is_dir():
                continue
            left.append(str(real))
    return sorted(left)


def test_uninstall_leaves_nothing_behind(installed: Namespace, unit_daemon: Daemon) -> None:
    ns = installed
    everywhere = ("/etc", "/opt", "/usr/local", "/var/lib")
    assert "/etc/openras/policy.conf" in _leftovers(ns, everywhere)  # the check can fail
    policy = ns.path("/etc/openras/policy.conf")
    policy.write_text(policy.read_text() + "\n[user:alice]\ndevices = *\n")
    proc = ns.run("bash", str(INSTALL), "--uninstall")
    assert proc.returncode == 0, proc.stderr
    # A running rasman (no systemd to stop it) is named; the administrator's files stay.
    assert f"a rasman (pid {unit_daemon.proc.pid}) still runs" in proc.stdout
    assert "kept your edited /etc/openras/policy.conf" in proc.stdout
    assert _leftovers(ns, ("/opt", "/usr/local")) == []
    assert _leftovers(ns, ("/etc",)) == ["/etc/openras", "/etc/openras/policy.conf"]
    assert "/var/lib/openras" in _leftovers(ns, ("/var/lib",))

    proc = ns.run("bash", str(INSTALL), "--purge")
    assert proc.returncode == 0, proc.stderr
    assert _leftovers(ns, everywhere) == []


def test_staging_into_a_root_names_the_final_paths(tmp_path: Path, pip_cache: Path) -> None:
    stage = tmp_path / "stage"
    proc = subprocess.run(
        ["bash", str(INSTALL), "--root", str(stage)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=_root_env(pip_cache),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "systemd" not in proc.stdout  # nothing started or enabled
    unit = unit_settings((stage / UNIT.lstrip("/")).read_text())
    assert unit["ExecStart"] == "/opt/openras/bin/rasman"
    assert os.readlink(stage / "usr/local/bin/rasdial") == "/opt/openras/bin/rasdial"
    shebang = (stage / "opt/openras/bin/rasman").read_text().splitlines()[0]
    assert shebang == "#!/opt/openras/bin/python"
    assert str(stage) not in "".join(
        p.read_text(errors="replace")
        for p in (stage / "opt/openras/bin").iterdir()
        if p.is_file() and not p.is_symlink()
    )


def test_openras_manager_starts_nothing_and_says_how_to_start_one(tmp_path: Path) -> None:
    sock = tmp_path / "nobody.sock"
    proc = subprocess.run(
        [sys.executable, "-c", OPENRAS_MAIN, "--socket", str(sock), "manager"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 111, proc.stdout + proc.stderr  # 711, as every command
    assert "No connection manager answers" in proc.stdout
    assert "sudo systemctl enable --now openras" in proc.stdout
    assert not sock.exists() and list(tmp_path.iterdir()) == []
