"""Print the import graph between plait's subpackages (module-level imports) and any cycle in it.

`python scripts/layers.py` exits 1 when subpackages import each other in a circle; tests/unit/test_layers.py
runs it. Imports inside functions (deliberately lazy) and under TYPE_CHECKING are left out.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "src" / "plait"


def subpackage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and (ROOT / parts[1]).is_dir()) else "plait"


def module_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        for sub in ast.walk(node) if not isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)) else []:
            if isinstance(sub, ast.ImportFrom) and sub.module and sub.module.startswith("plait") and sub.level == 0:
                found.add(sub.module)
            elif isinstance(sub, ast.Import):
                found.update(a.name for a in sub.names if a.name.startswith("plait"))
    return found


def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for path in ROOT.rglob("*.py"):
        module = "plait." + ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        source = subpackage(module)
        for target in module_imports(path):
            dest = subpackage(target)
            if dest != source and dest != "plait" and source != "plait":
                edges[source].add(dest)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    found, seen = [], set()

    def visit(node: str, trail: list[str]) -> None:
        for nxt in sorted(edges.get(node, ())):
            if nxt in trail:
                cycle = trail[trail.index(nxt):] + [nxt]
                key = frozenset(cycle)
                if key not in seen:
                    seen.add(key)
                    found.append(cycle)
            elif len(trail) < 12:
                visit(nxt, trail + [nxt])

    for start in sorted(edges):
        visit(start, [start])
    return found


if __name__ == "__main__":
    edges = graph()
    for source in sorted(edges):
        print(f"{source:10s} -> {', '.join(sorted(edges[source]))}")
    loops = cycles(edges)
    for loop in loops:
        print("cycle:", " -> ".join(loop))
    sys.exit(1 if loops else 0)
