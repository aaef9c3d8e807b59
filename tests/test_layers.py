"""The layers hold: read every module's imports (at the top and inside functions) with `ast`.

* `anomaly_lib` is the ground floor: it imports no method package;
* a method package imports `anomaly_lib` and itself, never another method;
* no import cycle between the modules of one package.

The method packages are the top-level packages of the checkout, other than `anomaly_lib`, that
hold a `method.py`: the ones the registry (`anomaly_lib.method`) finds.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GROUND = "anomaly_lib"


def method_packages(root: Path = ROOT) -> list:
    return sorted(p.parent.name for p in root.glob("*/method.py")
                  if (p.parent / "__init__.py").is_file() and p.parent.name != GROUND)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set:
    """Every module `path` imports, as absolute dotted names (relative imports resolved)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # from .x import y / from . import y
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(base + ([node.module] if node.module else []))
            else:
                base = node.module
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from . import x` may be a module
    return found


def package_modules(package: str, root: Path = ROOT) -> dict:
    """Module name → path for every .py file of `package`."""
    return {module_name(path, root): path for path in sorted((root / package).rglob("*.py"))}


def top_level(name: str) -> str:
    return name.split(".")[0]


def layer_violations(root: Path = ROOT) -> list:
    methods = method_packages(root)
    problems = []
    for package in [GROUND, *methods]:
        allowed = {GROUND} if package == GROUND else {GROUND, package}
        for module, path in package_modules(package, root).items():
            for imported in sorted(imported_modules(path, root)):
                other = top_level(imported)
                if other in methods and other not in allowed:
                    problems.append(f"{module} imports {imported}")
    return problems


def find_cycle(package: str, root: Path = ROOT):
    """One import cycle between the modules of `package` (a list of names), or None."""
    modules = package_modules(package, root)
    edges = {module: sorted({m for m in imported_modules(path, root) if m in modules and m != module
                             and m != package})  # the package's __init__ re-exports: not a cycle
             for module, path in modules.items()}
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for target in edges[module]:
            if state.get(target) == "open":
                return trail[trail.index(target):] + [target]
            if target not in state:
                cycle = visit(target, trail + [target])
                if cycle:
                    return cycle
        state[module] = "done"
        return None

    for module in modules:
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return None


def test_the_method_packages_are_found():
    assert {"sagan_lib", "swssl_lib"} <= set(method_packages())


def test_no_layer_is_crossed():
    assert layer_violations() == []


@pytest.mark.parametrize("package", [GROUND, "sagan_lib", "swssl_lib"])
def test_no_import_cycle_inside_a_package(package):
    assert find_cycle(package) is None


def test_the_checks_catch_a_crossed_layer_and_a_cycle(tmp_path):
    """The same checks on a made-up checkout that breaks every rule."""
    files = {
        "anomaly_lib/__init__.py": "",
        "anomaly_lib/compare.py": "def run():\n    from alpha_lib.train import fit\n",
        "alpha_lib/__init__.py": "", "alpha_lib/method.py": "from anomaly_lib import compare\n",
        "alpha_lib/cli.py": "from .demo import run_demo\n", "alpha_lib/demo.py": "from . import cli\n",
        "beta_lib/__init__.py": "", "beta_lib/method.py": "import alpha_lib.cli\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert layer_violations(tmp_path) == ["anomaly_lib.compare imports alpha_lib.train",
                                          "anomaly_lib.compare imports alpha_lib.train.fit",
                                          "beta_lib.method imports alpha_lib.cli"]
    assert find_cycle("alpha_lib", tmp_path) == ["alpha_lib.cli", "alpha_lib.demo", "alpha_lib.cli"]
    assert find_cycle("beta_lib", tmp_path) is None


def test_the_registry_finds_every_method_package_and_each_runs_its_own_command_line():
    from anomaly_lib import method

    assert set(method_packages()) == {f"{name}_lib" for name in method.names()}
    for name in method.names():
        registered = method.get(name)
        assert registered.main.__module__.startswith(f"{name}_lib."), "a method's command line is its own"
        assert all(variant == name or variant.startswith(name + "-") for variant in registered.variants)
    with pytest.raises(ValueError, match="no method called 'gan'; registered: autoencoder, sagan, swssl"):
        method.get("gan")
