# SPDX-License-Identifier: Apache-2.0
"""The package's structure, read from its own source: every import stays in its layer or goes down, none
forms a circle, and every import names something that exists.

The layers are the table in docs/ARCHITECTURE.md (this test reads it, so the document and the check
cannot drift apart). Imports are parsed with ``ast``, those inside functions included: a lazy import
is still a dependency, and on the GPU-only paths (the probe child, the nccl ranks) it is the one a
CPU run would never execute. Imports under ``if TYPE_CHECKING:`` run only in a type checker: they may
not climb, but they do not make circles.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "python" / "waitbench"
DOC = ROOT / "docs" / "ARCHITECTURE.md"


def layers() -> list[tuple[str, list[str]]]:
    """The ``layers`` block of docs/ARCHITECTURE.md, top layer first: [(name, module prefixes)]."""
    block = re.search(r"```layers\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert block, f"{DOC} has no ```layers block"
    out = []
    for line in block.group(1).splitlines():
        if line.strip():
            name, _, prefixes = line.partition(":")
            out.append((name.strip(), prefixes.split()))
    return out


LAYERS = layers()
RANK = {name: i for i, (name, _) in enumerate(reversed(LAYERS))}  # base is 0, the facade the highest


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name (the compiled core by its stub)."""
    out = {}
    for path in [*sorted(PACKAGE.rglob("*.py")), PACKAGE / "_C.pyi", PACKAGE / "_host.pyi"]:
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = modules()


def layer_of(module: str) -> str | None:
    """The layer whose longest prefix names ``module`` (None: no layer does)."""
    best = None
    for name, prefixes in LAYERS:
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > len(best[1])):
                best = (name, p)
    return best[0] if best else None


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported from
    names: tuple[str, ...]  # what ``from target import ...`` names (empty for ``import target``)
    line: int
    type_only: bool  # under ``if TYPE_CHECKING:``


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(module: str, path: Path) -> list[Import]:
    """The package-internal imports of one module, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed = _type_checking_lines(tree)
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            if target == "waitbench" or target.startswith("waitbench."):
                out.append(Import(module, target, tuple(a.name for a in node.names), node.lineno,
                                  node.lineno in typed))
        elif isinstance(node, ast.Import):
            out.extend(Import(module, a.name, (), node.lineno, node.lineno in typed)
                       for a in node.names if a.name == "waitbench" or a.name.startswith("waitbench."))
    return out


IMPORTS = [imp for module, path in MODULES.items() for imp in imports_of(module, path)]


def edges(imp: Import) -> list[str]:
    """The modules an import depends on: each submodule it names, else the module it imports from."""
    subs = [f"{imp.target}.{n}" for n in imp.names if f"{imp.target}.{n}" in MODULES]
    return subs + ([imp.target] if len(subs) < len(imp.names) or not imp.names else [])


def test_the_layer_table_names_every_module_and_only_modules_that_exist() -> None:
    names = [name for name, _ in LAYERS]
    assert (names[0], names[-1]) == ("facade", "base") and len(set(names)) == len(names)
    unplaced = [m for m in MODULES if layer_of(m) is None]
    assert not unplaced, f"modules without a layer (add them to the table in {DOC.name}): {unplaced}"
    stale = [p for _, prefixes in LAYERS for p in prefixes if p not in MODULES]
    assert not stale, f"the layer table names modules that do not exist: {stale}"


def climbs(imports: list[Import]) -> list[str]:
    """Each import that reaches a module of a higher layer than its own, in words."""
    out = []
    for imp in imports:
        for target in edges(imp):
            here, there = layer_of(imp.source), layer_of(target)
            if there is not None and RANK[there] > RANK[here]:  # a module that does not exist fails elsewhere
                out.append(f"{imp.source} ({here}) line {imp.line} imports {target} ({there})")
    return out


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle a depth-first walk of ``graph`` (module -> modules it imports) closes."""
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []
    found: list[list[str]] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(graph.get(m, ())):
            if state.get(t) == 1:
                found.append([*path[path.index(t):], t])
            elif t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return found


def runtime_graph(imports: list[Import]) -> dict[str, set[str]]:
    """Module -> the modules it imports when it runs (type-only imports left out)."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for imp in imports:
        if not imp.type_only:
            graph[imp.source].update(t for t in edges(imp) if t != imp.source)
    return graph


def test_no_import_climbs_to_a_higher_layer() -> None:
    found = climbs(IMPORTS)
    assert not found, "imports that climb a layer:\n" + "\n".join(found)


def test_no_import_circle() -> None:
    found = circles(runtime_graph(IMPORTS))
    assert not found, "import circles:\n" + "\n".join(" -> ".join(c) for c in found)


def test_the_checks_find_a_climb_and_a_circle() -> None:
    """They can fail: a runner importing the CLI climbs; two modules importing each other make a circle."""
    climb = Import("waitbench.runner", "waitbench.cli.main", ("main",), 7, False)
    assert climbs([climb]) == ["waitbench.runner (measure) line 7 imports waitbench.cli.main (cli)"]
    assert climbs([Import("waitbench.cli.run", "waitbench.runner", ("Session",), 1, False)]) == []
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    typed = Import("waitbench.diagnose.rows", "waitbench.diagnose.refresh", ("Refresh",), 1, True)
    assert "waitbench.diagnose.refresh" not in runtime_graph([typed])["waitbench.diagnose.rows"]


def _optional(exc: ImportError) -> bool:
    """An optional package a module needs is missing (numba for custom.numba_ops): not a broken import."""
    return "pip install 'waitbench[" in str(exc)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if not m.endswith("__main__")))
def test_every_import_names_something_that_exists(module: str) -> None:
    """Lazy imports included: a GPU-only path (the probe child, an nccl rank) that names a moved module fails here."""
    for imp in (i for i in IMPORTS if i.source == module and not i.type_only):
        try:
            target = importlib.import_module(imp.target)
        except ImportError as exc:
            if _optional(exc):
                continue
            raise AssertionError(f"{module} line {imp.line}: cannot import {imp.target}: {exc}") from None
        for name in imp.names:
            if name == "*" or hasattr(target, name) or f"{imp.target}.{name}" in MODULES:
                continue
            raise AssertionError(f"{module} line {imp.line}: {imp.target} has no {name!r}")


def test_every_module_imports_in_a_fresh_interpreter_and_the_child_entries_start() -> None:
    """As a user's interpreter imports them (nothing imported before), and the two ``python -m`` children."""
    code = ("import importlib, pkgutil, waitbench\n"
            "for m in pkgutil.walk_packages(waitbench.__path__, 'waitbench.'):\n"
            "    if not m.name.endswith('__main__'):\n"
            "        try:\n"
            "            importlib.import_module(m.name)\n"
            "        except ImportError as exc:\n"
            "            assert \"pip install 'waitbench[\" in str(exc), (m.name, exc)\n")
    children = (["-m", "waitbench.diagnose.probe", "--help"], ["-m", "waitbench.nccl.emulate", "--help"])
    for args in (["-c", code], *children):
        r = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert r.returncode == 0, (args[:2], r.stderr[-2000:])
