"""``openras``'s names load on first use: light imports stay light, and every name works."""

from __future__ import annotations

import subprocess
import sys

import pytest


def fresh(code: str) -> str:
    """Run ``code`` in a new interpreter (this one has loaded everything already)."""
    p = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert p.returncode == 0, p.stderr
    return p.stdout.strip()


HEAVY = "('msgspec', 'asyncio', 'openras.client', 'openras.wire.transport')"


@pytest.mark.parametrize(
    "stmt", ["import openras", "import openras.errors", "import openras.paths"]
)
def test_light_imports_do_not_load_the_client_or_the_codec(stmt):
    assert fresh(f"import sys\n{stmt}\nprint([m for m in {HEAVY} if m in sys.modules])") == "[]"


def test_every_public_name_resolves_to_its_module():
    out = fresh(
        "import openras, openras.aclient, openras.client, openras.errors, openras.records,"
        " openras.states\n"
        "from openras import Client, RasError, AsyncClient\n"
        "mods = [openras.aclient, openras.client, openras.errors, openras.records, openras.states]\n"
        "homes = {n: [m.__name__ for m in mods if getattr(m, n, None) is getattr(openras, n)]"
        " for n in openras.__all__}\n"
        "print(Client is openras.client.Client, RasError is openras.errors.RasError,"
        " AsyncClient is openras.aclient.AsyncClient,"
        " sorted(n for n, h in homes.items() if not h), set(openras.__all__) <= set(dir(openras)))"
    )
    assert out == "True True True ['__version__', 'connect'] True"


def test_an_unknown_name_is_an_attribute_error():
    import openras

    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = openras.Nope  # type: ignore[attr-defined]
    assert not hasattr(openras, "_private")
