"""The magics: ``%namespace``, ``%secret``, ``%credential``, ``%kv``, ``%%http``, ``%nbcreds``.

Each magic parses its line with ``magic_arguments`` (so ``%secret?`` shows the
full help), then dispatches to a small function that calls the public facade
(``import nbcreds as nc``) -- no business logic lives here. A user mistake, and
any :class:`~nbcreds.NbcredsError`, is turned into IPython's ``UsageError``:
one line, no traceback, and never a value (nbcreds' messages name things only).

``register(ip)`` / ``unregister(ip)`` add and remove the magics, the
``pre_run_cell`` hook that keeps credential-bound variables fresh, and the tab
completion matcher. Behaviour is configurable with ``%config``::

    %config NbcredsMagics.keep_fresh = False
    %config NbcredsMagics.http_timeout = 10.0
"""

from __future__ import annotations

import contextlib
import functools
import json
import keyword
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from IPython.core.error import StdinNotImplementedError, UsageError
from IPython.core.magic import (
    Magics,
    cell_magic,
    line_magic,
    magics_class,
    no_var_expand,
)
from IPython.core.magic_arguments import argument as _ipy_argument
from IPython.core.magic_arguments import construct_parser as _ipy_construct_parser_untyped
from IPython.core.magic_arguments import parse_argstring as _ipy_parse_argstring
from traitlets import Bool, Float

from .._exceptions import CredentialNotFound, NbcredsError
from ..namespaces import display as level_name
from ._display import Message, Table

if TYPE_CHECKING:
    from ..credentials import CredentialInfo, CredentialListing

__all__ = ["NbcredsMagics", "register", "unregister"]

F = TypeVar("F", bound=Callable[..., Any])
_Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]
# IPython's magic_arguments helpers are untyped: give them types once, here.
argument: Callable[..., _Decorator] = _ipy_argument
parse_argstring: Callable[[Any, str], Any] = _ipy_parse_argstring
_ipy_construct_parser: Callable[[Any], Any] = _ipy_construct_parser_untyped


class _ArgumentMagic:
    """A magic method whose ``magic_arguments`` parser is built on first use.

    IPython's ``@magic_arguments()`` builds the argparse parser -- and formats the
    full help into ``__doc__`` -- when the class is defined: most of the cost of
    ``%load_ext nbcreds``. Here both wait for the first parse or help request
    (``%secret?``); the parser and the help are IPython's own, built the same way.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self._func = func
        self._built = False
        self.__wrapped__ = func
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__

    def _build(self) -> Any:
        if not self._built:
            self._func.parser = _ipy_construct_parser(self._func)  # type: ignore[attr-defined]
            self._built = True
        return self._func.parser  # type: ignore[attr-defined]

    @property
    def parser(self) -> Any:
        return self._build()

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]  # the full help, on demand
        self._build()
        return self._func.__doc__

    def __getattr__(self, name: str) -> Any:
        # has_arguments, decorators, argcmd_name...: the function's own attributes
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._func, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._func(*args, **kwargs)

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        if instance is None:
            return self
        return types.MethodType(self, instance)


def magic_arguments() -> Callable[[F], F]:
    """``IPython.core.magic_arguments.magic_arguments()``, with the parser built lazily."""

    def decorate(func: F) -> F:
        if not getattr(func, "has_arguments", False):
            func.has_arguments = True  # type: ignore[attr-defined]
            func.decorators = []  # type: ignore[attr-defined]
        return _ArgumentMagic(func)  # type: ignore[return-value]

    return decorate


def _resolve(namespace: str | None) -> str | None:
    """The namespace a command works at: the one given (validated), else the current one."""
    import nbcreds as nc

    if namespace is None:
        return nc.current_namespace()
    from nbcreds.namespaces import validate

    return validate(namespace)


def _friendly(func: F) -> F:
    """Turn nbcreds errors into ``UsageError``: one clear line, no traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except NbcredsError as exc:
            raise UsageError(str(exc)) from None

    return wrapper  # type: ignore[return-value]


def _variable(name: str, what: str) -> str:
    """``name`` if it can be a Python variable, else a UsageError saying to use --as."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise UsageError(
            f"'{name}' is not a valid Python variable name; choose one with --as VAR "
            f"(e.g. %{what} {name} --as my_var)."
        )
    return name


def _one(words: list[str], usage: str) -> str:
    if len(words) != 1:
        raise UsageError(f"expected exactly one name: {usage}")
    return words[0]


@dataclass
class _Binding:
    """A variable holding a credential's token: re-bound when the token is due."""

    credential: str
    namespace: str | None
    value: object
    last_error: str | None = None  # shown once, not before every cell


@magics_class
class NbcredsMagics(Magics):
    """nbcreds' magics. Configurable with ``%config NbcredsMagics.<option> = ...``."""

    keep_fresh = Bool(
        True,
        help="Before each cell, re-bind variables bound with %credential whose token is due.",
    ).tag(config=True)
    http_timeout = Float(30.0, help="Default timeout of %%http requests, in seconds.").tag(
        config=True
    )

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.bindings: dict[str, _Binding] = {}

    @property
    def user_ns(self) -> dict[str, Any]:
        """The notebook's variables."""
        if self.shell is None:
            raise UsageError("nbcreds' magics are not attached to an IPython shell.")
        ns: dict[str, Any] = self.shell.user_ns
        return ns

    # ------------------------------------------------------------------ %namespace
    @magic_arguments()
    @argument("name", nargs="?", help="namespace to switch to, e.g. company.team")
    @argument("--list", action="store_true", help="list the namespaces known from config")
    @argument("--tenant", action="store_true", help="switch to the tenant level (no namespace)")
    @line_magic
    @_friendly
    def namespace(self, line: str) -> Table | None:
        """Show or switch the current namespace.

        Secrets and credentials are looked up in the current namespace, then
        its parents (``a.b.c`` -> ``a.b`` -> ``a`` -> tenant); KV keys belong
        to exactly one namespace.

        Examples::

            %namespace                     # show the current namespace
            %namespace company.team        # switch to it
            %namespace --tenant            # back to the tenant level
            %namespace --list              # namespaces known from nbcreds.toml
        """
        import nbcreds as nc

        args = parse_argstring(self.namespace, line)
        if args.list:
            current = nc.current_namespace()
            rows = [[ns, "*" if ns == current else ""] for ns in nc.list_namespaces()]
            return Table(["namespace", "current"], rows, empty="(no namespace known)")
        if args.tenant:
            if args.name:
                raise UsageError("give either a namespace or --tenant, not both.")
            nc.use_namespace(None)
            print("namespace: tenant level")
            return None
        if args.name:
            nc.use_namespace(args.name)
        current = nc.current_namespace()
        print(f"namespace: {current if current else 'tenant level'}")
        return None

    # --------------------------------------------------------------------- %secret
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        metavar="list | NAME | get NAME | bind NAME | lease PATH",
        help="what to do (see the examples above)",
    )
    @argument("--as", dest="var", metavar="VAR", help="variable to bind (default: NAME)")
    @argument("--field", metavar="FIELD", help="one field of a multi-field secret")
    @argument(
        "--from",
        dest="ref",
        metavar="REF",
        help="bind: read it from a reference (env:VAR, vault:path#field, ... any installed source)",
    )
    @argument("--env", metavar="ENVVAR", help="bind: read the secret from this variable")
    @argument("--vault", metavar="PATH[#FIELD]", help="bind: read it from Vault / OpenBao")
    @argument("--prompt", action="store_true", help="bind: type the value (kept in memory)")
    @argument(
        "--store",
        choices=["session", "keyring"],
        default="session",
        help="bind --prompt: keep the value in the session (default) or the OS keyring",
    )
    @argument("-n", "--namespace", metavar="NS", help="namespace (default: the current one)")
    @line_magic
    @_friendly
    def secret(self, line: str) -> Table | None:
        """Bind secrets into the notebook, list them, or declare where they come from.

        A bound secret is a ``Secret``: a ``str`` that works in headers and
        URLs but shows as ``<Secret NAME ****>``. Values are never printed.

        Examples::

            %secret list                       # names, source, level (never values)
            %secret DB_PASSWORD                # bind variable DB_PASSWORD
            %secret DB_PASSWORD --as pw        # ... under another name
            %secret get list --as x            # a secret literally named 'list'
            %secret SA_KEY --field client_email
            %secret bind DB_PW --from vault:db/prod#password  # any reference
            %secret bind API_KEY --env MY_API_KEY       # read $MY_API_KEY on each use
            %secret bind DB_PW --vault db/prod#password # read from Vault / OpenBao
            %secret bind TOKEN --prompt                 # typed once, memory only
            %secret bind TOKEN --prompt --store keyring # typed once, kept in the OS keyring
            %secret lease database/creds/ro --as db     # a Vault dynamic secret (a Lease)
            %secret list -n company.team
        """
        args = parse_argstring(self.secret, line)
        words: list[str] = list(args.words)
        usage = "%secret list | NAME [--as VAR] | bind NAME --from REF|--env VAR|--prompt"
        if not words:
            raise UsageError(f"what should %secret do? {usage} (see %secret? for help)")
        head = words[0]
        binding = (
            args.ref is not None or args.env is not None or args.vault is not None or args.prompt
        )
        if head == "list":
            if len(words) > 1:
                raise UsageError("%secret list takes no name; use -n NS for another namespace.")
            return secret_list(args.namespace)
        if head == "bind":
            name = _one(words[1:], "%secret bind NAME --from REF | --env VAR | --prompt")
            print(
                secret_bind(
                    name,
                    args.env,
                    args.vault,
                    args.prompt,
                    args.namespace,
                    ref=args.ref,
                    store=args.store,
                )
            )
            return None
        if head == "lease":
            path = _one(words[1:], "%secret lease PATH --as VAR")
            if not args.var:
                raise UsageError("%secret lease PATH needs --as VAR (the variable to bind).")
            print(secret_lease(self.user_ns, path, _variable(args.var, "lease")))
            return None
        if binding:
            raise UsageError(
                "--from, --env, --vault and --prompt go with 'bind': "
                "%secret bind NAME --from env:VAR"
            )
        name = _one(words[1:], "%secret get NAME") if head == "get" else _one(words, usage)
        var = _variable(args.var or name, "secret")
        print(secret_to_variable(self.user_ns, name, var, args.field, args.namespace))
        return None

    # ----------------------------------------------------------------- %credential
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        metavar="list | NAME | get NAME | test NAME | info NAME | invalidate NAME | "
        "login NAME | logout NAME",
        help="what to do (see the examples above)",
    )
    @argument("--as", dest="var", metavar="VAR", help="variable to bind (default: NAME)")
    @argument("-n", "--namespace", metavar="NS", help="namespace (default: the current one)")
    @line_magic
    @_friendly
    def credential(self, line: str) -> Table | Message | None:
        """Mint, bind, test and inspect credentials (tokens minted for you).

        ``%credential NAME`` binds the access token to a variable. The binding
        is *kept fresh*: before each cell runs, if the token is due for
        refresh the variable is re-bound to a new one -- so a notebook left
        open for hours keeps working. Assigning something else to the
        variable ends the binding.

        Examples::

            %credential list                 # type, level, cached / expires in
            %credential my_oauth             # bind variable my_oauth to the token
            %credential my_oauth --as token
            %credential test my_oauth        # like Kestra's Test button
            %credential info my_oauth        # type, endpoint, cache state (no token)
            %credential invalidate my_oauth  # drop the cached token
            %credential login me             # sign in now (device code / browser)
            %credential logout me            # revoke (RFC 7009) and forget the sign-in
        """
        args = parse_argstring(self.credential, line)
        words: list[str] = list(args.words)
        usage = (
            "%credential list | NAME [--as VAR] | test NAME | info NAME | invalidate NAME | "
            "login NAME | logout NAME"
        )
        if not words:
            raise UsageError(f"what should %credential do? {usage} (see %credential? for help)")
        head, rest = words[0], words[1:]
        if head == "list":
            if rest:
                raise UsageError("%credential list takes no name; use -n NS for another one.")
            return credential_list(args.namespace)
        if head == "test":
            return credential_test(_one(rest, "%credential test NAME"), args.namespace)
        if head == "info":
            return credential_info_table(_one(rest, "%credential info NAME"), args.namespace)
        if head == "invalidate":
            print(credential_invalidate(_one(rest, "%credential invalidate NAME"), args.namespace))
            return None
        if head in ("login", "logout"):
            import nbcreds as nc

            act = nc.login if head == "login" else nc.logout
            print(act(_one(rest, f"%credential {head} NAME"), args.namespace))
            return None
        name = _one(rest, "%credential get NAME") if head == "get" else _one(words, usage)
        var = _variable(args.var or name, "credential")
        print(self.bind_credential(name, var, args.namespace))
        return None

    def bind_credential(self, name: str, var: str, namespace: str | None) -> str:
        """Mint ``name``'s token, bind it to ``var`` and remember the binding."""
        import nbcreds as nc

        ns = _resolve(namespace)  # pin the level: a later %namespace does not move it
        token = nc.credential(name, namespace=ns)
        self.user_ns[var] = token
        self.bindings[var] = _Binding(name, ns, token)
        expires = _expiry(nc.credential_info(name, namespace=ns).expires_at)
        return f"{var} = <Secret {name} ****>  ({expires}; kept fresh before each cell)"

    def refresh_bindings(self, *_: Any) -> None:
        """``pre_run_cell`` hook: re-bind variables whose credential's token is due.

        A variable the user reassigned (or deleted) is left alone and forgotten.
        A failure is one line on stderr naming the variable and credential, shown
        once per distinct failure; a credential no longer defined ends the binding.
        """
        if not self.keep_fresh or not self.bindings:
            return
        import nbcreds as nc

        user_ns = self.user_ns
        for var, binding in list(self.bindings.items()):
            if user_ns.get(var, None) is not binding.value:
                del self.bindings[var]
                continue
            try:
                info = nc.credential_info(binding.credential, namespace=binding.namespace)
                if not _due(info):
                    continue
                token = nc.credential(binding.credential, namespace=binding.namespace)
            except CredentialNotFound as exc:
                del self.bindings[var]
                print(
                    f"nbcreds: `{var}` is no longer kept fresh: {exc}; it keeps its last token.",
                    file=sys.stderr,
                )
                continue
            except NbcredsError as exc:
                message = str(exc)
                if message != binding.last_error:  # once per distinct failure
                    binding.last_error = message
                    print(
                        f"nbcreds: could not refresh `{var}` (credential "
                        f"'{binding.credential}'): {message}",
                        file=sys.stderr,
                    )
                continue
            user_ns[var] = token
            binding.value = token
            binding.last_error = None

    # ------------------------------------------------------------------------- %kv
    @magic_arguments()
    @argument(
        "words",
        nargs="*",
        metavar="get KEY | set KEY VALUE | delete KEY | list [PREFIX]",
        help="what to do (see the examples above)",
    )
    @argument(
        "--type",
        metavar="T",
        help="set: STRING, NUMBER, BOOLEAN, DATETIME, DATE, "
        "DURATION or JSON (default: inferred from the value)",
    )
    @argument("--ttl", metavar="DURATION", help="set: ISO-8601 time to live, e.g. PT1H, P1D")
    @argument("--no-overwrite", action="store_true", help="set: fail if the key exists")
    @argument("--description", metavar="TEXT", help="set: a description of the key")
    @argument("--inherit", action="store_true", help="get: also look in parent namespaces")
    @argument("--default", metavar="VALUE", help="get: the value when the key is missing")
    @argument("-n", "--namespace", metavar="NS", help="namespace (default: the current one)")
    @no_var_expand
    @line_magic
    @_friendly
    def kv(self, line: str) -> Any:
        """Read and write the KV store: runtime state shared across notebooks and runs.

        A value given to ``set`` is parsed as JSON when it is valid JSON
        (``42``, ``true``, ``{"a": 1}``, ``"a string"``), else taken as a
        string. KV is for state, not secrets: a secret value is refused.

        Examples::

            %kv set cursor 42
            %kv set config {"batch": 500, "dry_run": false} --ttl P7D
            %kv set greeting hello world           # the string 'hello world'
            %kv set lock 1 --no-overwrite          # fails if 'lock' exists
            %kv get cursor                         # the value (x = %kv get cursor)
            %kv get cursor --default 0             # 0 when the key is missing
            %kv list                               # key, type, revision, expiry
            %kv list sync.                         # keys starting with 'sync.'
            %kv delete cursor
            %kv get cursor -n company.team.etl
        """
        args = parse_argstring(self.kv, line)
        words: list[str] = list(args.words)
        usage = "%kv get KEY | set KEY VALUE | delete KEY | list [PREFIX]"
        if not words:
            raise UsageError(f"what should %kv do? {usage} (see %kv? for help)")
        head, rest = words[0], words[1:]
        if args.default is not None and head != "get":
            raise UsageError("--default goes with 'get': %kv get KEY --default VALUE")
        set_only = args.type or args.ttl or args.no_overwrite or args.description
        if set_only and head != "set":
            raise UsageError("--type, --ttl, --no-overwrite and --description go with 'set'.")
        if head == "get":
            return kv_get(_one(rest, "%kv get KEY"), args.namespace, args.inherit, args.default)
        if head == "set":
            if len(rest) < 2:
                raise UsageError(
                    "usage: %kv set KEY VALUE [--type T] [--ttl PT1H] [--no-overwrite]"
                )
            print(
                kv_set(
                    rest[0],
                    " ".join(rest[1:]),
                    args.type,
                    args.ttl,
                    not args.no_overwrite,
                    args.description,
                    args.namespace,
                )
            )
            return None
        if head == "delete":
            print(kv_delete(_one(rest, "%kv delete KEY"), args.namespace))
            return None
        if head == "list":
            if len(rest) > 1:
                raise UsageError("usage: %kv list [PREFIX]")
            return kv_list(rest[0] if rest else None, args.namespace)
        raise UsageError(f"unknown %kv command '{head[:30]}': {usage}")

    # ----------------------------------------------------------------------- %%http
    @magic_arguments()
    @argument("--auth", metavar="CRED", help="attach credential CRED (Bearer, refreshed)")
    @argument("--as", dest="var", metavar="VAR", help="keep the httpx.Response in VAR")
    @argument("--timeout", type=float, metavar="SECONDS", help="request timeout")
    @argument("--no-follow", action="store_true", help="do not follow redirects")
    @argument("-n", "--namespace", metavar="NS", help="namespace for secret()/credential()/kv()")
    @cell_magic
    @_friendly
    def http(self, line: str, cell: str) -> None:
        """Send an HTTP request written like a ``.http`` file, and show the response.

        First line ``METHOD URL``, then ``Name: value`` header lines, a blank
        line, and the body. ``{{ secret('X') }}``, ``{{ credential('x') }}``
        and ``{{ kv('k') }}`` are expanded in a sandboxed Jinja2 environment.
        The output shows status, time, the request actually sent (expanded URL
        and every header sent, Authorization / Set-Cookie / credential query
        values masked), the template on demand, the response headers and a
        collapsible JSON body; nothing secret is displayed.

        Example::

            %%http --auth my_oauth --as resp
            POST https://api.example.com/items
            X-Api-Key: {{ secret('API_KEY') }}

            {"name": "{{ kv('item_name') }}"}
        """
        from IPython import display as ipy_display

        display: Callable[[Any], None] = ipy_display.display

        from nbcreds import http as core

        args = parse_argstring(self.http, line)
        var = _variable(args.var, "%http --as") if args.var else None
        result = core.request(
            cell,
            auth=args.auth,
            namespace=args.namespace,
            timeout=args.timeout if args.timeout is not None else self.http_timeout,
            follow_redirects=not args.no_follow,
        )
        if var:
            self.user_ns[var] = result.response
        display(result)

    # --------------------------------------------------------------------- %nbcreds
    @line_magic
    @_friendly
    def nbcreds(self, line: str) -> Any:
        """Show the nbcreds dashboard: namespace, secrets, credentials, KV (no values).

        Example::

            %nbcreds
        """
        if line.strip():
            raise UsageError("%nbcreds takes no arguments.")
        try:
            from nbcreds import widgets
        except ImportError as exc:
            raise UsageError(
                f"the dashboard is not available ({exc.name or 'nbcreds.widgets'} could not be "
                "imported); install ipywidgets and nbcreds' widgets, or use %secret list, "
                "%credential list and %kv list."
            ) from None
        dashboard = getattr(widgets, "dashboard", None)
        if dashboard is None:
            raise UsageError(
                "this version of nbcreds has no dashboard; use %secret list, "
                "%credential list and %kv list."
            )
        return dashboard()


# ---------------------------------------------------------------------------------------------
# Plain functions behind the magics: each does one subcommand through the facade and
# is tested by calling it directly as well as through the magic.


def secret_list(namespace: str | None) -> Table:
    """Names, source and level of the secrets visible from ``namespace``."""
    import nbcreds as nc

    ns = _resolve(namespace)
    rows = [
        [row.name, row.source, level_name(row.level) + (" (inherited)" if row.inherited else "")]
        for row in nc.list_secrets(ns)
    ]
    title = f"Secrets visible from {level_name(ns)}"
    return Table(["name", "source", "level"], rows, title=title, empty="(no secrets found)")


def secret_bind(
    name: str,
    env: str | None,
    vault: str | None,
    prompt: bool,
    namespace: str | None,
    ref: str | None = None,
    store: str = "session",
) -> str:
    import nbcreds as nc

    chosen = sum([ref is not None, env is not None, vault is not None, bool(prompt)])
    if chosen != 1:
        raise UsageError(
            "bind needs exactly one of --from REF (e.g. --from vault:db/prod#password), "
            "--env VAR, --vault PATH[#FIELD] or --prompt."
        )
    if ref is not None and not nc.plugins.is_reference(ref):
        raise UsageError(
            f"--from needs a reference: {nc.plugins.reference_help()} "
            f"(schemes of the installed sources: {', '.join(nc.plugins.reference_schemes())})."
        )
    if store != "session" and not prompt:
        raise UsageError("--store keyring keeps a typed value: use it with --prompt.")
    try:
        return nc.bind_secret(
            name, env=env, vault=vault, ref=ref, prompt=prompt, namespace=namespace, store=store
        )
    except (StdinNotImplementedError, EOFError):
        raise UsageError(
            "this frontend cannot prompt for input; bind the secret with --env VAR or "
            "--vault PATH, or type it into the dashboard (%nbcreds)."
        ) from None


def secret_lease(user_ns: dict[str, Any], path: str, var: str) -> str:
    """Take a Vault lease on ``path`` and bind the :class:`~nbcreds.Lease` to ``var``."""
    import nbcreds as nc

    taken = nc.lease(path)
    user_ns[var] = taken
    fields = ", ".join(sorted(taken.data)) or "none"
    return (
        f"{var} = <Lease {taken.path}>: fields {fields} (each a masked Secret); "
        f"expires {taken.expires_at:%H:%M:%S} UTC, renewed in the background, revoked at shutdown"
    )


def secret_to_variable(
    user_ns: dict[str, Any], name: str, var: str, field: str | None, namespace: str | None
) -> str:
    import nbcreds as nc

    value = nc.secret(name, namespace=namespace, field=field)
    user_ns[var] = value
    source = f" from {value.source}" if value.source else ""
    return f"{var} = <Secret {value.label} ****>{source}"


def _due(info: CredentialInfo) -> bool:
    """A bound token needs replacing when it is due for refresh or was dropped.

    With caching off there is no token to watch (every ``credential()`` mints),
    so such bindings are left as they are rather than minting before every cell.
    """
    return bool(info.caching_enabled and info.refresh_due)


def credential_list(namespace: str | None) -> Table:
    import nbcreds as nc

    ns = _resolve(namespace)
    rows = []
    for row in nc.list_credentials(ns):
        level = level_name(row.level) + (" (inherited)" if row.inherited else "")
        rows.append([row.name, row.type, level, _cache_state(row)])
    title = f"Credentials visible from {level_name(ns)}"
    return Table(
        ["name", "type", "level", "token"], rows, title=title, empty="(no credentials defined)"
    )


def _cache_state(row: CredentialListing) -> str:
    """The one token vocabulary: 'valid · expires in 54 min' / 'expired' /
    'not fetched yet' / 'failed: ...'."""
    return row.status


def _expiry(expires_at: datetime | None) -> str:
    """'expires in 54 min' / 'no expiry given'."""
    if expires_at is None:
        return "no expiry given"
    return f"expires in {_duration((expires_at - datetime.now(UTC)).total_seconds())}"


def _duration(seconds: float) -> str:
    if seconds < 0:
        return "0 s (expired)"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def credential_test(name: str, namespace: str | None) -> Message:
    import nbcreds as nc

    result = nc.test_credential(name, namespace=namespace)
    mark = "✓" if result.success else "✗"
    return Message(f"{mark} {name}: {result.message}", ok=bool(result.success))


def credential_info_table(name: str, namespace: str | None) -> Table:
    import dataclasses

    import nbcreds as nc

    info = nc.credential_info(name, namespace=namespace)  # holds no token
    rows = [[key, _show(value)] for key, value in dataclasses.asdict(info).items()]
    state = nc.login_state(name, namespace=namespace)
    if state.status:  # a user sign-in type: its state, and the code/link while pending
        rows.append(["sign_in", state.status])
        for key in ("user_code", "verification_uri", "verification_uri_complete"):
            value = getattr(state, key)
            if value:
                rows.append([key, value])
    return Table(["field", "value"], rows, title=f"Credential {name}")


def _show(value: Any) -> str:
    if value is None:
        return "-"
    if hasattr(value, "isoformat"):
        return str(value.isoformat(timespec="seconds"))
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value) or "-"
    return str(value)


def credential_invalidate(name: str, namespace: str | None) -> str:
    import nbcreds as nc

    dropped = nc.invalidate(name, namespace=namespace)
    if dropped is False:
        return f"{name}: no cached token to drop"
    return f"{name}: cached token dropped; the next use mints a new one"


def parse_kv_value(text: str) -> Any:
    """JSON when ``text`` is valid JSON, else the text itself ('quotes' stripped)."""
    try:
        return json.loads(text)
    except ValueError:
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        return text


def kv_get(key: str, namespace: str | None, inherit: bool, default: str | None = None) -> Any:
    """The value of ``key``; ``default`` (parsed like a set value) when it is missing."""
    import nbcreds as nc

    if default is None:
        return nc.kv(key, namespace=namespace, inherit=inherit)
    return nc.kv(key, namespace=namespace, inherit=inherit, default=parse_kv_value(default))


def kv_set(
    key: str,
    text: str,
    type_: str | None,
    ttl: str | None,
    overwrite: bool,
    description: str | None,
    namespace: str | None,
) -> str:
    import nbcreds as nc

    ns = _resolve(namespace)
    value = parse_kv_value(text)
    if type_ and type_.upper() != "JSON" and not isinstance(value, str):
        value = text  # an explicit type parses the text itself (e.g. 42 --type STRING)
    revision = nc.set_kv(
        key, value, namespace=ns, ttl=ttl, type=type_, overwrite=overwrite, description=description
    )
    text = f"{key} set in {level_name(ns)}, revision {revision}"
    return text + (f", expires after {ttl}" if ttl else ", never expires")


def kv_delete(key: str, namespace: str | None) -> str:
    import nbcreds as nc

    ns = _resolve(namespace)
    deleted = nc.delete_kv(key, namespace=ns)
    if deleted is False:
        return f"{key}: no such key in {level_name(ns)}"
    return f"{key} deleted from {level_name(ns)}"


def kv_list(prefix: str | None, namespace: str | None) -> Table:
    import nbcreds as nc

    ns = _resolve(namespace)
    rows = []
    for entry in nc.kv_entries(prefix, namespace=ns):
        kind = getattr(entry.type, "value", entry.type)
        rows.append(
            [entry.key, kind, entry.revision, _show(entry.expires) if entry.expires else "never"]
        )
    title = f"KV keys in {level_name(ns)}" + (f" starting with '{prefix}'" if prefix else "")
    return Table(["key", "type", "revision", "expires"], rows, title=title, empty="(no keys)")


# ---------------------------------------------------------------------------------------------
# Registration.

_STATE_ATTR = "_nbcreds_magics_state"


def register(ip: Any) -> NbcredsMagics:
    """Register the magics, the keep-fresh hook and the completer on shell ``ip``.

    Idempotent: registering twice replaces the first registration.
    """
    if getattr(ip, _STATE_ATTR, None) is not None:
        unregister(ip)
    from ._completers import make_matcher

    magics = NbcredsMagics(shell=ip)
    ip.register_magics(magics)
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    ip.events.register("pre_run_cell", magics.refresh_bindings)
    matcher = make_matcher()
    completer = getattr(ip, "Completer", None)
    if completer is not None:
        completer.custom_matchers.append(matcher)
    setattr(ip, _STATE_ATTR, (magics, matcher))
    return magics


def unregister(ip: Any) -> None:
    """Undo :func:`register`: magics, hook and completer are removed."""
    state = getattr(ip, _STATE_ATTR, None)
    if state is None:
        return
    magics, matcher = state
    with contextlib.suppress(ValueError):
        ip.events.unregister("pre_run_cell", magics.refresh_bindings)
    completer = getattr(ip, "Completer", None)
    if completer is not None and matcher in completer.custom_matchers:
        completer.custom_matchers.remove(matcher)
    manager = ip.magics_manager
    for kind, names in magics.magics.items():
        for name in names:
            bound = manager.magics[kind].get(name)
            if getattr(bound, "__self__", None) is magics:
                del manager.magics[kind][name]
    manager.registry.pop(type(magics).__name__, None)
    if magics in ip.configurables:
        ip.configurables.remove(magics)
    magics.bindings.clear()
    setattr(ip, _STATE_ATTR, None)
