"""The public API: every module's __all__ agrees with topoeval._LAZY; imports stay light."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import subprocess
import sys

import pytest

import topoeval
import topoeval.errors

MODULES = sorted(set(topoeval._LAZY.values()))
HEAVY = ("numba", "h5py", "gudhi", "ot", "torch", "matplotlib", "scipy", "dask", "pandas")


def _exists(module: str) -> bool:
    return importlib.util.find_spec(f"topoeval.{module}") is not None


@pytest.mark.parametrize("module", MODULES)
def test_all_matches_lazy(module):
    if not _exists(module):
        pytest.skip(f"topoeval.{module} not written yet")
    mod = importlib.import_module(f"topoeval.{module}")
    assert hasattr(mod, "__all__"), f"topoeval.{module} has no __all__"
    lazy = {name for name, m in topoeval._LAZY.items() if m == module}
    assert set(mod.__all__) == lazy, (
        f"topoeval.{module}.__all__ and topoeval._LAZY disagree: only in __all__: "
        f"{sorted(set(mod.__all__) - lazy)}, only in _LAZY: {sorted(lazy - set(mod.__all__))}"
    )
    for name in mod.__all__:
        assert hasattr(mod, name), f"topoeval.{module}.__all__ lists {name!r}, which it does not define"


def test_every_lazy_name_resolves():
    for name, module in topoeval._LAZY.items():
        if not _exists(module):
            continue
        obj = getattr(importlib.import_module(f"topoeval.{module}"), name)
        assert obj is not None


def test_errors_reexported():
    for name in topoeval.errors.__all__:
        assert getattr(topoeval, name) is getattr(topoeval.errors, name)
    assert set(topoeval.__all__) >= set(topoeval._LAZY) | set(topoeval.errors.__all__)


def test_unknown_attribute():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        topoeval.nope  # noqa: B018


@pytest.mark.parametrize("module", ["metrics", "io", "compare"])
def test_public_functions_documented(module):
    """numpydoc with Examples on every public function/class of this engineer's modules."""
    mod = importlib.import_module(f"topoeval.{module}")
    for name in mod.__all__:
        obj = getattr(mod, name)
        doc = inspect.getdoc(obj) or ""
        assert "Examples" in doc or inspect.isclass(obj), f"{module}.{name} has no Examples section"
        assert len(doc) > 80, f"{module}.{name} is barely documented"


def _imported_after(code: str) -> set[str]:
    probe = (
        code
        + "\nimport sys, json\n"
        + f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    import json

    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_import_topoeval_is_light():
    assert _imported_after("import topoeval") == set()


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["diagram", "--help"], ["info", "--help"],
                                  ["sharpness", "--help"], ["--version"]])
def test_cli_help_is_light(argv):
    code = (
        "import sys\nfrom topoeval.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit as e:\n"
        "    assert e.code == 0, e.code\n"
    )
    heavy = _imported_after(code)
    assert not heavy & {"numba", "h5py", "gudhi"}, f"`topoeval {' '.join(argv)}` imported {sorted(heavy)}"


def test_metrics_and_io_modules_import_no_numba():
    heavy = _imported_after("import topoeval.metrics, topoeval.io, topoeval.cli.options")
    assert not heavy & {"numba", "h5py", "gudhi"}


SHADOWED = sorted(name for name, module in topoeval._LAZY.items() if name == module)


@pytest.mark.parametrize("name", SHADOWED)
def test_function_named_like_its_module_stays_callable(name):
    """`te.dsl(...)` must work even after `import topoeval.dsl` / `from topoeval.dsl import X`
    (the import system binds a loaded submodule as the package attribute of the same name)."""
    if not _exists(name):
        pytest.skip(f"topoeval.{name} not written yet")
    code = (
        "import topoeval as te, importlib, types\n"
        f"importlib.import_module('topoeval.{name}')\n"
        f"assert callable(te.{name}) and not isinstance(te.{name}, types.ModuleType), type(te.{name})\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
