"""The layering of ARCHITECTURE.md, checked from the imports of every module of deap_lib."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "deap_lib"
#: Layer of each package or top-level module; a module may import its own layer and those below.
LAYERS = {"models": 0, "store": 0, "fingerprint": 0, "data": 1, "evaluation": 2, "experiment": 3, "report": 4, "cli": 4,
          "__main__": 5, "__init__": 0}


def _layer(module: str) -> int:
    """``deap_lib.experiment.engine`` -> the layer of ``experiment``."""
    return LAYERS[module.split(".")[1]]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("deap_lib"):
            if node.module == "deap_lib":
                found |= {f"deap_lib.{a.name}" for a in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("deap_lib.")}
    return {m for m in found if m.count(".") >= 1}


def test_every_module_imports_only_its_layer_or_below():
    modules = sorted(ROOT.rglob("*.py"))
    assert len(modules) > 20
    upward = []
    for path in modules:
        name = "deap_lib." + ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for imported in _imports(path):
            if _layer(imported) > _layer(name):
                upward.append(f"{name} imports {imported}")
    assert not upward, upward


def test_evaluation_is_numbers_only():
    for path in (ROOT / "evaluation").glob("*.py"):
        assert all(m.startswith("deap_lib.evaluation") for m in _imports(path)), path
