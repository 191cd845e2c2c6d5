"""No import circle in ``src/openras``, not even one a late import hides.

A circle works only while each side imports the other late enough; it breaks the day someone
moves an import or a name, and it means the two modules are one. The graph here has an edge
for every import written: at module level, inside functions (a function-level import hides a
circle, it does not remove it) and under ``if TYPE_CHECKING:`` (the type checker follows
those; a protocol in the lower module breaks such a circle). A package's lazily loaded names
(``openras._lazy``) are strings, not imports; importing a submodule runs its package first,
which is not a circle either, so ``from pkg import submodule`` is an edge to the submodule
only.

Run as a script, it prints each circle with the lines that make it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def modules(src: Path = SRC) -> dict[str, tuple[Path, bool]]:
    """Every module under ``src/openras``: dotted name -> (file, is a package)."""
    found: dict[str, tuple[Path, bool]] = {}
    for path in sorted((src / "openras").rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        package = parts[-1] == "__init__"
        if package:
            parts.pop()
        found[".".join(parts)] = (path, package)
    return found


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    return (n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom))


def _targets(
    name: str, package: bool, node: ast.Import | ast.ImportFrom, known: Mapping[str, object]
) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in known}
    if node.level:
        base = name.split(".") if package else name.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        origin = ".".join([*base, *([node.module] if node.module else [])])
    else:
        origin = node.module or ""
    out: set[str] = set()
    for alias in node.names:
        sub = f"{origin}.{alias.name}"
        if sub in known:
            out.add(sub)
        elif origin in known:
            out.add(origin)
    return out


def graph(src: Path = SRC) -> dict[str, dict[str, list[int]]]:
    """module -> {module it imports: [line numbers]}, for the modules of ``src/openras``."""
    known = modules(src)
    edges: dict[str, dict[str, list[int]]] = {}
    for name, (path, package) in known.items():
        out = edges.setdefault(name, {})
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            for target in _targets(name, package, node, known):
                if target != name:
                    out.setdefault(target, []).append(node.lineno)
    return edges


def circles(edges: dict[str, dict[str, list[int]]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            child = next(it, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def describe(edges: dict[str, dict[str, list[int]]], component: list[str]) -> str:
    inside = set(component)
    lines = [
        f"  {a} -> {b} (line {', '.join(map(str, edges[a][b]))})"
        for a in component
        for b in sorted(edges[a])
        if b in inside
    ]
    return "\n".join([" <-> ".join(component), *lines])


def test_the_graph_sees_the_modules_and_their_imports():
    edges = graph()
    assert "openras.manager.service" in edges
    assert "openras.errors" in edges["openras.rasapi"]
    # A function-level import counts, and so does a TYPE_CHECKING one.
    assert "openras.client" in edges["openras"]
    assert "openras.aclient" in edges["openras"]


def test_no_import_circle():
    edges = graph()
    found = circles(edges)
    assert not found, "import circles in src/openras:\n" + "\n".join(
        describe(edges, c) for c in found
    )


def test_a_circle_is_found(tmp_path):
    pkg = tmp_path / "openras"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from openras.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    (pkg / "c.py").write_text("from openras import d\n")
    (pkg / "d.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from openras.c import X\n"
    )
    (pkg / "e.py").write_text("from openras import sub\n")  # the package only: no circle
    assert circles(graph(tmp_path)) == [["openras.a", "openras.sub.b"], ["openras.c", "openras.d"]]


if __name__ == "__main__":
    edges = graph()
    for component in circles(edges):
        print(describe(edges, component))
