"""Who wants to hear about sign-in state changes, kept apart from ``nbcreds.credentials``.

The comm subscribes at ``%load_ext nbcreds``; importing the credentials package for that
would double the load's cost, and no sign-in can happen before it is imported. The
package's :class:`~nbcreds.credentials._login.LoginBook` tells these listeners too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["listeners"]

#: ``listener(credential name, LoginState)``, called on every sign-in state change
listeners: list[Callable[[str, Any], None]] = []
