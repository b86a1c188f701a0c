"""The engine behind ``%%http``: a ``.http``-style request, expanded and sent.

A request is written like a ``.http`` file (JetBrains / VS Code REST Client)::

    POST https://api.example.com/items?page=1
    Authorization: Bearer {{ credential('my_oauth') }}
    Content-Type: application/json

    {"name": "{{ kv('item_name') }}"}

The first non-comment line is ``METHOD URL`` (``GET`` when only a URL is
given); header lines follow until a blank line; the rest is the body. Lines
starting with ``#`` or ``//`` before the request line are comments.

``{{ secret('X') }}``, ``{{ credential('x') }}`` and ``{{ kv('k') }}`` are
expanded by a *sandboxed* Jinja2 environment (so a template cannot reach
Python internals). The request is parsed before expansion and each part is
expanded on its own: a secret containing a newline or a colon can never change
the request's structure, and errors quote the template, never an expanded
value.

The result shows the status and time, the request *actually sent* (method, the
expanded URL and every header httpx sent, the auth header included, credentials
masked), the template as written (collapsed, on demand), the response headers
(credentials masked) and a pretty, collapsible JSON body. Colours are JupyterLab
CSS variables, so the output reads in light and dark themes. The result is passed
through the masker
(:func:`nbcreds.masking.masked`) before it is displayed, so a server echoing
a token back does not put it on screen, even outside a kernel with egress masking.

This module has no IPython dependency: the ``%%http`` magic is a thin layer
over :func:`request`.
"""

from __future__ import annotations

import html
import json
import re
import ssl
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import httpx

from ._exceptions import HttpRequestError, NbcredsError

if TYPE_CHECKING:
    from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "HttpRequest",
    "HttpRequestError",
    "HttpResult",
    "mask_header",
    "mask_url",
    "parse_request",
    "render_request",
    "request",
    "send",
]

MASK = "****"
# Header values that carry credentials: shown masked whatever their content.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "x-auth-token",
        "x-vault-token",
    }
)
# Query parameters that carry credentials: their values are shown masked.
SENSITIVE_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "api-key",
        "client_secret",
        "code",
        "id_token",
        "key",
        "password",
        "refresh_token",
        "secret",
        "sig",
        "signature",
        "token",
        "x-amz-signature",
        "x-amz-security-token",
        "x-goog-signature",
    }
)
_SENSITIVE_PARAM = re.compile(
    r"([?&](?:" + "|".join(re.escape(p) for p in sorted(SENSITIVE_PARAMS)) + r")=)"
    r"((?:\{\{.*?\}\}|[^&#\s])*)",
    re.IGNORECASE,
)
_METHOD = re.compile(r"[A-Z]+")
_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")
_HTTP_VERSION = re.compile(r"\s+HTTP/\d(\.\d)?$", re.IGNORECASE)
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
MAX_TEXT_CHARS = 100_000
MAX_ITEMS = 200  # per JSON container in the HTML tree
_NO_DEFAULT: Any = object()


@dataclass(frozen=True)
class HttpRequest:
    """A parsed (or expanded) request: method, URL, headers and an optional body."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: str | None = None


def parse_request(text: str) -> HttpRequest:
    """Parse ``.http``-style text into an :class:`HttpRequest` (templates untouched).

    Raises :class:`HttpRequestError` naming the line that is wrong.
    """
    lines = text.splitlines()
    i = 0
    while i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith(("#", "//"))):
        i += 1
    if i == len(lines):
        raise HttpRequestError(
            "%%http needs a request: a first line 'METHOD URL' (e.g. 'GET https://host/path'), "
            "then optional 'Name: value' header lines, a blank line and an optional body."
        )
    line = lines[i].strip()
    if not re.search(r"\s", _TEMPLATE.sub("", line)):
        method, url = "GET", line
    else:
        method, _, url = line.partition(" ")
        url = _HTTP_VERSION.sub("", url.strip())
        if re.search(r"\s", _TEMPLATE.sub("", url)):
            raise HttpRequestError(
                f"line {i + 1}: the request line must be 'METHOD URL' (optionally followed by "
                "HTTP/1.1); put headers on the following lines and encode spaces in the URL "
                "as %20."
            )
        if not _METHOD.fullmatch(method.upper()):
            raise HttpRequestError(
                f"line {i + 1}: '{method[:20]}' is not an HTTP method; start with GET, POST, "
                "PUT, PATCH, DELETE, HEAD or OPTIONS."
            )
        method = method.upper()
    i += 1
    # JetBrains-style query continuation lines:   ?page=1 / &size=10
    while i < len(lines) and lines[i][:1].isspace() and lines[i].strip()[:1] in ("?", "&"):
        url += lines[i].strip()
        i += 1
    headers: list[tuple[str, str]] = []
    while i < len(lines) and lines[i].strip():
        line = lines[i]
        if line.lstrip().startswith(("#", "//")):
            i += 1
            continue
        name, sep, value = line.partition(":")
        if not sep or not _HEADER_NAME.fullmatch(name.strip()):
            raise HttpRequestError(
                f"line {i + 1}: expected a header 'Name: value' here. Headers end at the "
                "first blank line; the body comes after it."
            )
        headers.append((name.strip(), value.strip()))
        i += 1
    rest = lines[i + 1 :]
    if any(line.startswith("###") for line in rest):
        raise HttpRequestError(
            "%%http sends one request per cell: split the requests at '###' into separate cells."
        )
    body = "\n".join(rest).strip("\n")
    return HttpRequest(method, url, headers, body if body.strip() else None)


def _environment(namespace: str | None) -> SandboxedEnvironment:
    """A sandboxed Jinja2 environment whose globals are secret / credential / kv."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    import nbcreds as nc

    def secret(name: str, field: str | None = None, namespace: str | None = namespace) -> str:
        return nc.secret(name, namespace=namespace, field=field).reveal()

    def credential(name: str, namespace: str | None = namespace) -> str:
        return str.__str__(nc.credential(name, namespace=namespace))

    def kv(key: str, default: Any = _NO_DEFAULT, namespace: str | None = namespace) -> Any:
        if default is _NO_DEFAULT:
            return nc.kv(key, namespace=namespace)
        return nc.kv(key, namespace=namespace, default=default)

    env = SandboxedEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.globals.update(secret=secret, credential=credential, kv=kv)
    return env


def render_request(req: HttpRequest, *, namespace: str | None = None) -> HttpRequest:
    """Expand the templates of URL, header values and body (sandboxed Jinja2).

    Only text containing ``{{`` or ``{%`` is rendered, so literal braces in a
    JSON body never need escaping.
    """
    env: SandboxedEnvironment | None = None

    def render(text: str, where: str) -> str:
        nonlocal env
        if "{{" not in text and "{%" not in text:
            return text
        if env is None:
            env = _environment(namespace)
        from jinja2 import TemplateError, TemplateSyntaxError
        from jinja2.exceptions import SecurityError, UndefinedError

        try:
            return env.from_string(text).render()
        except NbcredsError:
            raise
        except TemplateSyntaxError as exc:
            raise HttpRequestError(
                f"template error in the {where} (line {exc.lineno}): {exc.message}. "
                "Expressions look like {{ secret('NAME') }}."
            ) from None
        except SecurityError:
            raise HttpRequestError(
                f"the template in the {where} tried something the sandbox forbids; only "
                "secret(), credential(), kv() and plain expressions are allowed."
            ) from None
        except UndefinedError as exc:
            # "'name' is undefined" quotes the template; a missing attribute or key
            # quotes the key looked up, which may be an expanded value: don't repeat it
            message = exc.message or ""
            if not re.fullmatch(r"'[A-Za-z_][A-Za-z0-9_]*' is undefined", message):
                message = "an attribute or key used in the template does not exist"
            raise HttpRequestError(
                f"template error in the {where}: {message}. The functions available are "
                "secret('NAME', field=None), credential('name') and kv('key', default)."
            ) from None
        except TemplateError as exc:
            raise HttpRequestError(f"template error in the {where}: {exc.message}") from None
        except Exception as exc:
            # A call with wrong arguments names the arguments: safe to quote. Anything
            # else (int() of a value, a division...) may quote a value: name the type only.
            detail = str(exc) if isinstance(exc, TypeError) and "argument" in str(exc) else ""
            raise HttpRequestError(
                f"template error in the {where}: {type(exc).__name__}"
                + (f" ({detail})" if detail else "")
                + ". Expressions look like {{ secret('NAME') }}, {{ credential('name') }}, "
                "{{ kv('key') }}."
            ) from None

    url = render(req.url, "URL").strip()
    headers = [(name, render(value, f"header {name}").strip()) for name, value in req.headers]
    body = render(req.body, "body") if req.body is not None else None
    return replace(req, url=url, headers=headers, body=body)


def mask_header(name: str, value: str) -> str:
    """A header value fit for display: credentials replaced by ``****``.

    Keeps what helps debugging and is not secret: the auth scheme
    (``Bearer ****``) and a cookie's name and attributes (``sid=****; Path=/``).
    """
    lname = name.lower()
    if lname not in SENSITIVE_HEADERS:
        return value
    if lname in ("authorization", "proxy-authorization"):
        scheme, _, rest = value.partition(" ")
        return f"{scheme} {MASK}" if rest else MASK
    if lname == "set-cookie":
        first, sep, attrs = value.partition(";")
        cname, eq, _ = first.partition("=")
        return f"{cname.strip()}={MASK}{sep}{attrs}" if eq else MASK
    if lname == "cookie":
        names = [p.partition("=")[0].strip() for p in value.split(";") if p.strip()]
        return "; ".join(f"{n}={MASK}" for n in names)
    return MASK


def mask_url(url: str) -> str:
    """A URL fit for display: user info and credential-like query values masked.

    Registered secrets are masked afterwards by the masker wherever they appear;
    this also covers a value typed literally into the URL.
    """
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    if u.userinfo:
        u = u.copy_with(username=MASK, password=MASK if u.password else None)
    if u.query:
        from urllib.parse import parse_qsl, urlencode

        pairs = parse_qsl(u.query.decode("ascii", "replace"), keep_blank_values=True)
        if any(k.lower() in SENSITIVE_PARAMS for k, _ in pairs):
            shown = [(k, MASK if k.lower() in SENSITIVE_PARAMS else v) for k, v in pairs]
            u = u.copy_with(query=urlencode(shown, safe="*").encode("ascii"))
    return str(u)


def _host(url: str) -> str:
    try:
        u = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "the host"
    port = f":{u.port}" if u.port else ""
    return f"{u.host}{port}" if u.host else "the host"


def _root_cause(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        chain.append(node)
        seen.add(id(node))
        node = node.__cause__ or node.__context__
    return chain


def _describe_failure(exc: httpx.RequestError, req: HttpRequest, timeout: float) -> str:
    """One clear line for a transport failure (DNS, refused, timeout, TLS...)."""
    host = _host(req.url)
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the response",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "")
        during = f" while {phase}" if phase else ""
        return (
            f"{req.method} {host}: timed out after {timeout:g} s{during} "
            "(raise it with --timeout SECONDS)."
        )
    chain = _root_cause(exc)
    for cause in chain:
        if isinstance(cause, ssl.SSLCertVerificationError):
            reason = cause.verify_message or "certificate verification failed"
            return f"{req.method} {host}: TLS error: {reason}."
        if isinstance(cause, ssl.SSLError):
            return f"{req.method} {host}: TLS error: {cause.reason or 'handshake failed'}."
    text = " ".join(str(c) for c in chain).lower()
    if any(
        s in text
        for s in (
            "name or service not known",
            "nodename nor servname",
            "getaddrinfo",
            "temporary failure in name resolution",
            "no address associated",
        )
    ):
        return f"{req.method} {host}: cannot resolve the host name (DNS): check the URL."
    if "refused" in text:
        return f"{req.method} {host}: connection refused: is the server running on that port?"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"{req.method} {host}: too many redirects."
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"{req.method}: the URL needs a host and http:// or https:// (http://host/path)."
    if "ssl" in text or "tls" in text or "certificate" in text:
        return f"{req.method} {host}: TLS error."
    return f"{req.method} {host}: the request failed ({type(exc).__name__})."


def send(
    req: HttpRequest,
    *,
    auth: httpx.Auth | None = None,
    timeout: float = 30.0,
    follow_redirects: bool = True,
    transport: httpx.BaseTransport | None = None,
    template: HttpRequest | None = None,
) -> HttpResult:
    """Send an expanded request; transport failures become one-line
    :class:`HttpRequestError` messages naming the host only.

    ``template`` is the request as written (templates unexpanded): the result
    shows it on demand beside the request actually sent.
    """
    if not req.url.lower().startswith(("http://", "https://")):
        raise HttpRequestError(
            "the URL must start with http:// or https:// (after expanding templates)."
        )
    headers = list(req.headers)
    content = req.body.encode("utf-8") if req.body is not None else None
    if req.body is not None and not any(n.lower() == "content-type" for n, _ in headers):
        try:
            json.loads(req.body)
        except ValueError:
            headers.append(("Content-Type", "text/plain; charset=utf-8"))
        else:
            headers.append(("Content-Type", "application/json"))
    with httpx.Client(
        timeout=timeout, follow_redirects=follow_redirects, transport=transport
    ) as client:
        failure: str | None = None
        try:
            response = client.request(
                req.method, req.url, headers=headers, content=content, auth=auth
            )
            response.read()
        except httpx.RequestError as exc:
            failure = _describe_failure(exc, req, timeout)
        except httpx.InvalidURL:
            failure = "the URL is not valid (after expanding templates): check host and port."
        if failure is not None:
            # raised outside the except block: httpx's exception holds the request and
            # its headers (an Authorization with a secret), and must not be __context__
            raise HttpRequestError(failure)
    return HttpResult(template or req, response)


def request(
    text: str,
    *,
    auth: str | httpx.Auth | None = None,
    namespace: str | None = None,
    timeout: float = 30.0,
    follow_redirects: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> HttpResult:
    """Parse, expand and send ``.http``-style ``text``; return the displayable result.

    ``auth`` is an ``httpx.Auth`` or the name of a credential
    (``nbcreds.auth(name)``: Bearer token, refreshed, retried once on 401).
    """
    template = parse_request(text)
    expanded = render_request(template, namespace=namespace)
    if isinstance(auth, str):
        import nbcreds as nc

        auth = nc.auth(auth, namespace=namespace)
    return send(
        expanded,
        auth=auth,
        timeout=timeout,
        follow_redirects=follow_redirects,
        transport=transport,
        template=template,
    )


class HttpResult:
    """A response, displayed: status and time, the request sent (masked), headers
    (masked), pretty body.

    ``response`` is the :class:`httpx.Response` itself (``%%http --as VAR``);
    ``template`` is the request as written, ``sent`` the request httpx sent last
    (after auth and redirects).
    """

    def __init__(self, template: HttpRequest, response: httpx.Response) -> None:
        self.template = template
        self.response = response

    @property
    def request(self) -> HttpRequest:
        """The request as written (templates unexpanded); kept for callers of 0.x."""
        return self.template

    @property
    def sent(self) -> httpx.Request:
        return self.response.request

    @property
    def elapsed_ms(self) -> float:
        return self.response.elapsed.total_seconds() * 1000

    def status_line(self) -> str:
        r = self.response
        return f"{r.http_version} {r.status_code} {r.reason_phrase}  ·  {self.elapsed_ms:.0f} ms"

    def request_line(self) -> str:
        """``METHOD URL`` of the request sent: the expanded URL, credentials masked."""
        return f"{self.sent.method} {mask_url(str(self.sent.url))}"

    def request_headers(self) -> list[tuple[str, str]]:
        """The headers actually sent (auth included), sensitive values masked."""
        headers = self.sent.headers
        enc = headers.encoding  # raw keeps the names' case as sent
        return [(k.decode(enc), mask_header(k.decode(enc), v.decode(enc))) for k, v in headers.raw]

    def template_text(self) -> str:
        """The request as written, templates unexpanded (shown on demand)."""
        t = self.template
        # a literal credential typed into the URL is masked; a template stays readable
        url = _SENSITIVE_PARAM.sub(lambda m: m[0] if "{" in m[2] else f"{m[1]}{MASK}", t.url)
        headers = [(k, v if "{" in v else mask_header(k, v)) for k, v in t.headers]
        lines = [f"{t.method} {url}", *(f"{k}: {v}" for k, v in headers)]
        if t.body is not None:
            lines += ["", t.body]
        return "\n".join(lines)

    def headers(self) -> list[tuple[str, str]]:
        """Response headers for display (sensitive values masked)."""
        return [(k, mask_header(k, v)) for k, v in self.response.headers.multi_items()]

    def json(self) -> Any:
        """The body as JSON, or ``None`` when it is not JSON."""
        ctype = self.response.headers.get("content-type", "")
        if not self.response.content:
            return None
        if "json" in ctype or not ctype:
            try:
                return json.loads(self.response.content)
            except ValueError:
                return None
        return None

    def _body_kind(self) -> tuple[str, Any]:
        data = self.json()
        if data is not None:
            return "json", data
        content = self.response.content
        if not content:
            return "empty", None
        ctype = self.response.headers.get("content-type", "")
        textual = (
            ctype.startswith("text/")
            or "xml" in ctype
            or "html" in ctype
            or "urlencoded" in ctype
            or not ctype
        )
        if textual:
            try:
                return "text", content.decode(self.response.encoding or "utf-8")
            except (UnicodeDecodeError, LookupError):
                pass
        return "binary", f"<{len(content)} bytes of {ctype or 'binary data'}>"

    def text(self) -> str:
        """The whole result as plain text (masked): status, ``> `` request sent,
        ``< `` response headers, body."""
        lines = [self.status_line(), f"> {self.request_line()}"]
        lines += [f"> {k}: {v}" for k, v in self.request_headers()]
        lines += [f"< {k}: {v}" for k, v in self.headers()]
        kind, body = self._body_kind()
        if kind != "empty":
            lines.append("")
            shown = json.dumps(body, indent=2, ensure_ascii=False) if kind == "json" else body
            if len(shown) > MAX_TEXT_CHARS:
                shown = shown[:MAX_TEXT_CHARS] + f"\n... ({len(shown) - MAX_TEXT_CHARS} more)"
            lines.append(shown)
        from .masking import masked

        return masked("\n".join(lines))

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text())

    def _repr_html_(self) -> str:
        esc = html.escape
        r = self.response
        state = "ok" if r.status_code < 400 else "error"

        def table(rows: list[tuple[str, str]]) -> str:
            return (
                "<table>"
                + "".join(
                    f"<tr><th scope='row'>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows
                )
                + "</table>"
            )

        head = (
            f"<div class='nbcreds-http-status nbcreds-http-{state}'>"
            f"<b>{r.status_code} {esc(r.reason_phrase)}</b> &middot; {self.elapsed_ms:.0f} ms"
            f"</div><div><code class='nbcreds-http-line'>{esc(self.request_line())}</code></div>"
        )
        sent_headers = self.request_headers()
        sent = (
            f"<details><summary>Request headers sent ({len(sent_headers)})</summary>"
            f"{table(sent_headers)}</details>"
            "<details><summary>Template</summary>"
            f"<pre>{esc(self.template_text())}</pre></details>"
        )
        shown_headers = self.headers()
        headers = (
            f"<details><summary>Response headers ({len(shown_headers)})</summary>"
            f"{table(shown_headers)}</details>"
        )
        kind, body = self._body_kind()
        if kind == "json":
            shown = f"<div class='nbcreds-json'>{_json_html(body, 0)}</div>"
        elif kind == "text":
            text = body if len(body) <= MAX_TEXT_CHARS else body[:MAX_TEXT_CHARS] + "\n..."
            shown = f"<details open><summary>Body</summary><pre>{esc(text)}</pre></details>"
        elif kind == "binary":
            shown = f"<p><i>{esc(body)}</i></p>"
        else:
            shown = "<p><i>(empty body)</i></p>"
        from .masking import masked

        return masked(f"<div class='nbcreds-http'>{_HTML_STYLE}{head}{sent}{headers}{shown}</div>")


# JupyterLab CSS variables only (with neutral fallbacks outside Lab): text keeps
# the theme's font colour, so it keeps its contrast; the state is a coloured bar.
_HTML_STYLE = (
    "<style>"
    ".nbcreds-http{color:var(--jp-content-font-color1,inherit)}"
    ".nbcreds-http table{border-collapse:collapse}"
    ".nbcreds-http th,.nbcreds-http td{text-align:left;vertical-align:top;"
    "padding:1px 8px 1px 0;overflow-wrap:anywhere}"
    ".nbcreds-http-status{border-left:4px solid var(--jp-border-color1,currentColor);"
    "padding-left:6px;margin-bottom:2px}"
    ".nbcreds-http-ok{border-left-color:var(--jp-success-color1,currentColor)}"
    ".nbcreds-http-error{border-left-color:var(--jp-error-color1,currentColor)}"
    ".nbcreds-http-line{font-family:var(--jp-code-font-family,monospace);"
    "overflow-wrap:anywhere}"
    ".nbcreds-http summary{cursor:pointer}"
    ".nbcreds-json{font-family:var(--jp-code-font-family,monospace)}"
    ".nbcreds-json ul{list-style:none;margin:0 0 0 1.2em;padding:0}"
    ".nbcreds-json .k{color:var(--jp-mirror-editor-property-color,inherit)}"
    "</style>"
)


def _json_html(value: Any, depth: int) -> str:
    """A collapsible tree: each object / array is a ``<details>``, open near the top."""
    esc = html.escape
    if isinstance(value, dict | list):
        is_dict = isinstance(value, dict)
        items = list(value.items()) if isinstance(value, dict) else list(enumerate(value))
        if not items:
            return "{}" if is_dict else "[]"
        if is_dict:  # a closed node still says what is inside
            names = ", ".join(str(k) for k, _ in items[:4]) + (", …" if len(items) > 4 else "")
            summary = f"{{…}} {len(items)} keys: {esc(names)}"
        else:
            summary = f"[…] {len(items)} items"
        parts = []
        for key, item in items[:MAX_ITEMS]:
            label = f"<span class='k'>{esc(json.dumps(key))}</span>: " if is_dict else ""
            parts.append(f"<li>{label}{_json_html(item, depth + 1)}</li>")
        if len(items) > MAX_ITEMS:
            parts.append(f"<li><i>… {len(items) - MAX_ITEMS} more</i></li>")
        opened = " open" if depth < 2 else ""
        return (
            f"<details{opened} style='display:inline-block;vertical-align:top'>"
            f"<summary>{summary}</summary><ul>{''.join(parts)}</ul></details>"
        )
    return f"<span>{esc(json.dumps(value, ensure_ascii=False))}</span>"
