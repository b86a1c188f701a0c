"""Parameters given as references, resolved inside the kernel.

``papermill -p token secret:API_TOKEN --engine nbcreds`` injects
``token = _param('token', 'secret:API_TOKEN')`` (``_param`` being
:func:`nbcreds.guard.parameter`): the notebook (its
injected cell and its ``papermill`` metadata) holds the reference, the kernel
resolves it through the configured sources and gets a :class:`~nbcreds.Secret`
registered with the masker before any cell can print it.
"""

from __future__ import annotations

from typing import Any

from .._exceptions import NbcredsError

__all__ = ["is_parameter_reference", "parameter", "reference_lines"]

_CALLEE = "_param"


def is_parameter_reference(value: object) -> bool:
    """True for a string parameter ``secret:NAME``, ``env:VAR`` or ``vault:path#field``."""
    from ..config import is_reference

    return isinstance(value, str) and is_reference(value)


def parameter(name: str, ref: str) -> Any:
    """Resolve the reference ``ref`` given for parameter ``name``: a ``Secret``.

    ``secret:NAME`` is the secret of that name (looked up as ``nc.secret`` does);
    any other reference (``env:VAR``, ``vault:path#field``, a plugin's scheme) is
    bound in the session under the parameter's name, then resolved.
    """
    import nbcreds as nc

    from ..config import parse_reference

    try:
        parsed = parse_reference(ref)
    except ValueError as exc:
        raise NbcredsError(f"parameter {name}: {exc}") from None
    if parsed.scheme == "secret":
        return nc.secret(parsed.target, field=parsed.field)
    nc.bind_secret(name, ref=ref)  # any installed source's scheme
    return nc.secret(name)


def reference_lines(params: dict[str, Any]) -> list[str]:
    """Python lines assigning each reference parameter through :func:`parameter`."""
    lines = []
    for key, value in params.items():
        if is_parameter_reference(value):
            if not key.isidentifier():
                raise NbcredsError(f"parameter {key!r} is not a Python identifier")
            # a short callee: `name = <long dotted name>` reads as a secret assignment to
            # the scanner's keyword rule
            lines.append(f"{key} = {_CALLEE}({key!r}, {value!r})")
    if not lines:
        return []
    return [f"from nbcreds.guard import parameter as {_CALLEE}  # resolved in the kernel", *lines]
