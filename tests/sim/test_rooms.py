"""The rooms of sim/ (docs/architecture.md, "sim/: the simulator") keep their import directions.

Read from the source with ``ast``, so an import added anywhere in a module counts, also
one inside a function. A module-level import of another axon module is an edge of the
import graph; that graph has no cycle, and the model room imports neither the engines nor
the audio room at module level.
"""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIM = ROOT / "sim"
MODULES = sorted(p for p in SIM.rglob("*.py"))


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, at_module_level)`` for every import in ``path`` (``from a import b`` gives
    ``a.b`` when ``a.b`` is a module of sim, else ``a``)."""
    tree = ast.parse(path.read_text())
    top = set(map(id, tree.body))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = any(_name(p) == sub for p in MODULES)
                out.append((sub if is_module else node.module, id(node) in top))
    return out


def test_sim_never_imports_training_bridge_or_the_peers():
    bad = [f"{_name(p)} imports {m}" for p in MODULES for m, _ in _imports(p)
           if m.split(".")[0] in ("training", "bridge", "torch", "brian2", "nest", "matplotlib")]
    assert not bad, bad


def test_module_level_imports_of_sim_form_no_cycle():
    graph = {_name(p): {m for m, top in _imports(p) if top and m.startswith("sim.") and m != _name(p)}
             for p in MODULES}
    state: dict[str, int] = {}

    def visit(n, path):
        state[n] = 1
        for m in graph.get(n, ()):
            if state.get(m) == 1:
                pytest.fail("import cycle: " + " -> ".join(path + [n, m]))
            if m in graph and not state.get(m):
                visit(m, path + [n])
        state[n] = 2

    for n in graph:
        if not state.get(n):
            visit(n, [])


@pytest.mark.parametrize("path", [p for p in MODULES if p.parent.name == "model"], ids=lambda p: p.name)
def test_the_model_room_imports_only_itself_and_the_shared_modules(path):
    allowed = ("sim.model", "sim.errors", "sim.discrete")
    bad = [m for m, top in _imports(path) if top and m.startswith("sim") and not m.startswith(allowed)]
    assert not bad, f"{_name(path)} imports {bad} at module level"


@pytest.mark.parametrize("path", [SIM / "errors.py", SIM / "discrete.py"], ids=lambda p: p.name)
def test_the_shared_modules_import_only_each_other(path):
    bad = [m for m, _ in _imports(path) if m.startswith("sim") and m not in ("sim.errors", "sim.discrete")]
    assert not bad, f"{_name(path)} imports {bad}"


def test_the_audio_room_uses_the_engines_public_names_only():
    bad = []
    for p in (SIM / "audio").glob("*.py"):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.module.startswith("sim.audio"):
                bad += [f"{p.name}: {node.module}.{a.name}" for a in node.names if a.name.startswith("_")]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) \
                    and node.value.attr == "sim" and node.attr.startswith("_"):
                bad.append(f"{p.name}:{node.lineno}: self.sim.{node.attr}")
    assert not bad, bad


@pytest.mark.parametrize("path", sorted((SIM / "engines").glob("*.py")), ids=lambda p: p.name)
def test_the_engines_import_the_model_and_the_shared_modules_only(path):
    allowed = ("sim.engines", "sim.model", "sim.errors", "sim.discrete")
    bad = [m for m, top in _imports(path) if top and m.startswith("sim") and not m.startswith(allowed)]
    assert not bad, f"{_name(path)} imports {bad} at module level"
