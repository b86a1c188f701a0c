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


def _type_checking_imports(module: types.ModuleType) -> dict[str, str]:
    """name -> absolute module of each import under ``if TYPE_CHECKING:`` in ``module``."""
    import ast

    tree = ast.parse(inspect.getsource(module))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom):
                    base = module.__name__ if stmt.level else ""
                    target = f"{base}.{stmt.module}" if stmt.module else base
                    for alias in stmt.names:
                        found[alias.asname or alias.name] = target.strip(".")
    return found


def test_lazy_names_are_the_names_typed_for_checkers() -> None:
    """The facade names each lazy attribute twice: once for type checkers (imports under
    TYPE_CHECKING) and once for ``__getattr__`` (``_LAZY``). They must agree, name and module,
    or a checker and the running code see different APIs."""
    typed = _type_checking_imports(nbcreds)
    typed.pop("__version__", None)
    typed.pop("plugins", None)  # a submodule, resolved by __getattr__ itself
    lazy = nbcreds._LAZY  # type: ignore[attr-defined]
    assert set(typed) == set(lazy), set(typed) ^ set(lazy)
    # a name may be typed from the module that defines it and served from the package
    # that re-exports it: both must hand out the same object
    import importlib

    for name, module in lazy.items():
        assert getattr(importlib.import_module(module), name) is getattr(
            importlib.import_module(typed[name]), name
        ), name
    assert set(lazy) <= set(nbcreds.__all__)
