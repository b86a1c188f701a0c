"""ipywidgets views over the facade: namespace picker, credential setup, secret
binder, KV editor and a dashboard with all of them.

Each widget is a thin view: it calls :mod:`nbcreds`' public functions and
keeps only UI state. No widget model ever keeps a secret: a value typed into
a password field is bound at once and the field cleared, so the widget state
a notebook saves holds no secret. Importing this package imports ipywidgets
(``import nbcreds`` does not).
"""

from __future__ import annotations

from ._credential_setup import CredentialSetup, credential_setup
from ._dashboard import CredentialList, Dashboard, dashboard
from ._kv_editor import KVEditor, kv_editor
from ._namespace import NamespacePicker, namespace_picker
from ._secret_binder import SecretBinder, secret_binder

__all__ = ["credential_setup", "dashboard", "kv_editor", "namespace_picker", "secret_binder"]

# The classes are importable for type hints and tests, but not part of __all__.
_CLASSES = (CredentialList, CredentialSetup, Dashboard, KVEditor, NamespacePicker, SecretBinder)
