"""One facade: every public name of ``nbcreds`` is in ``__all__`` and documented."""

from __future__ import annotations

import inspect
import types

import nbcreds


def test_every_exported_name_resolves_and_is_documented() -> None:
    undocumented = []
    for name in nbcreds.__all__:
        value = getattr(nbcreds, name)
        if name == "__version__" or name == "MISSING":
            continue
        if isinstance(value, types.ModuleType):
            doc = value.__doc__
        elif inspect.isclass(value) or callable(value):
            doc = inspect.getdoc(value)
        else:
            continue
        if not (doc and doc.strip()):
            undocumented.append(name)
    assert undocumented == []


def test_every_public_name_is_exported() -> None:
    import importlib

    for module in {"nbcreds.credentials", "nbcreds.kvstore", "nbcreds.masking"}:
        importlib.import_module(module)
    public = {
        name
        for name, value in vars(nbcreds).items()
        if not name.startswith("_")
        and not (isinstance(value, types.ModuleType) and name not in ("plugins",))
        and getattr(value, "__module__", "nbcreds").startswith("nbcreds")
        and (callable(value) or isinstance(value, types.ModuleType))
    }
    assert public - set(nbcreds.__all__) == set()
    assert len(nbcreds.__all__) == len(set(nbcreds.__all__))
