"""What a *method* is, and the registry that finds them by name.

`anomaly_lib` is the ground floor: it never imports a method. A method package (`sagan_lib`,
`swssl_lib`, …) describes itself with one `Method` in its own `method.py` and registers it
there (`register(METHOD)` at import time). Whatever knows every method (`compare`, the README
figures) asks this registry instead of importing the packages:

    from anomaly_lib import method
    method.names()                  # ('sagan', 'swssl')
    method.get("sagan").main([...]) # its command line

How the registry finds the packages, without naming them here (`discover`, run once):
  1. installed packages declare an entry point in the group ``anomaly_lib.methods``, e.g. in
     pyproject.toml ``[project.entry-points."anomaly_lib.methods"] sagan = "sagan_lib.method"``;
     `pip install -e .` (Colab) and a normal install both publish them;
  2. a source checkout on PYTHONPATH has no installed metadata, or stale metadata: there, every
     top-level package beside `anomaly_lib` that holds a ``method.py`` is imported. This scan
     runs only in a checkout (a folder with ``pyproject.toml`` above `anomaly_lib`), never over
     site-packages.
Your own method in a notebook: build a `Method` and call `register` yourself.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Callable

ENTRY_POINT_GROUP = "anomaly_lib.methods"


@dataclass(frozen=True)
class Method:
    """One anomaly-detection method as the engine and the comparison see it.

    name         its registry name and the prefix of its variants ("sagan")
    summary      one line for listings
    config       the dataclass of its training settings (field names are its ``--flags``)
    main         its command line, ``main(argv) -> exit status`` (train, test, predict, demo),
                 with the shared flags of `anomaly_lib.engine` (``--resume``, ``--no-progress``)
    run_files    the files a training run writes in its folder, resume checkpoint first
    step         its algorithm: one training step (the function the trainers call)
    variants     name → settings changes: the method itself ({}) and its ablations
    trains_on    variant name → what that variant learns from, in words
    compare      ``compare(variant, data, settings, seed, run_dir, device) -> test scores``,
                 one training run and the scores of the test images (`anomaly_lib.compare`)
    budget       (default, unit): the training budget a comparison gives it unless told otherwise
    setting_types  settings a comparison may change (``--NAME-set key=value``) → their types
    compare_quick  the settings a quick comparison (CPU, minutes) uses
    smoke_flags  the flags that shrink its demo to seconds (``readme-figures --smoke``)
    draw_figures ``draw_figures(folder) -> [paths]``: pictures of the method itself for the README
    images_per_unit  ``images_per_unit(settings, variant, n_train_normal) -> int | None``: the normal
                 training images one unit of `budget` passes through (a comparison matches budgets in
                 images with it); None where it cannot be known
    baseline     True for a simple method every claim must beat (a comparison's paired differences
                 are taken against the best baseline)
    length       the config field that sets how long it trains, in `budget`'s unit ("num_iters", "epochs")
    layout       the folder layout its command line reads (``anomaly_lib.layouts``): "medad" or "chest"
    data_flags   ``data_flags(data_folder, run_folder) -> [flags]``: where its command line finds a
                 dataset in `layout` and keeps its run (the contract tests drive every method so)
    """

    name: str
    summary: str
    config: type
    main: Callable
    run_files: tuple
    step: Callable
    variants: dict = field(default_factory=dict)
    trains_on: dict = field(default_factory=dict)
    compare: Callable | None = None
    budget: tuple = (0, "it")
    setting_types: dict = field(default_factory=dict)
    compare_quick: dict = field(default_factory=dict)
    smoke_flags: tuple = ()
    draw_figures: Callable | None = None
    images_per_unit: Callable | None = None
    baseline: bool = False
    length: str = "num_iters"
    layout: str = "medad"
    data_flags: Callable | None = None

    def __post_init__(self):
        if not self.variants:
            object.__setattr__(self, "variants", {self.name: {}})
        unnamed = [v for v in self.variants if v != self.name and not v.startswith(self.name + "-")]
        if unnamed:
            raise ValueError(f"method {self.name!r}: variant names must start with '{self.name}-', got {unnamed}")


_REGISTRY: dict = {}
_discovered = False


def register(method: Method) -> Method:
    """Add `method` under its name (registering the same name again replaces it)."""
    _REGISTRY[method.name] = method
    return method


def discover() -> None:
    """Import every method package once: entry points first, then a checkout's own packages."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    try:
        points = entry_points(group=ENTRY_POINT_GROUP)
    except TypeError:  # Python 3.9: a dict by group
        points = entry_points().get(ENTRY_POINT_GROUP, ())
    for point in points:
        try:
            importlib.import_module(point.value.split(":")[0])
        except ImportError:  # stale metadata (a renamed package): the checkout scan below finds the rest
            continue
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():
        for package in sorted(checkout.glob("*/method.py")):
            if package.parent.name != __package__ and (package.parent / "__init__.py").is_file():
                importlib.import_module(f"{package.parent.name}.method")


def names() -> tuple:
    """The registered methods' names, sorted."""
    discover()
    return tuple(sorted(_REGISTRY))


def get(name: str) -> Method:
    """The method called `name`; a one-line error naming the choices otherwise."""
    discover()
    if name not in _REGISTRY:
        raise ValueError(f"no method called {name!r}; registered: {', '.join(sorted(_REGISTRY)) or 'none'}")
    return _REGISTRY[name]


def all_variants() -> dict:
    """Every registered variant name → its method, methods in name order."""
    return {variant: _REGISTRY[name] for name in names() for variant in _REGISTRY[name].variants}
