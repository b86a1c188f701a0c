"""nbcreds.http: parse, expand (sandboxed Jinja2), send and display a .http request."""

from __future__ import annotations

import base64
import re
import secrets
import socket
import ssl
from typing import Any

import httpx
import pytest

import nbcreds as nc
from nbcreds import Secret
from nbcreds._exceptions import HttpRequestError, SecretNotFound
from nbcreds.http import (
    HttpRequest,
    HttpResult,
    mask_header,
    mask_url,
    parse_request,
    render_request,
    request,
    send,
)
from nbcreds.testing.leaks import assert_no_leak


@pytest.fixture
def api_secret(monkeypatch: pytest.MonkeyPatch) -> Secret:
    """A random env secret API_KEY; a Secret, so a failing test's report masks it."""
    value = "key-" + secrets.token_urlsafe(20)
    monkeypatch.setenv("SECRET_API_KEY", base64.b64encode(value.encode()).decode())
    return Secret(value, "API_KEY")


def shown(result: HttpResult) -> str:
    return result.text() + "\n" + result._repr_html_()


# ------------------------------------------------------------------------------------ parse


def test_parse_full_request() -> None:
    req = parse_request(
        "# list items\n"
        "// another comment\n"
        "post https://api.example.test/items HTTP/1.1\n"
        "    ?page=2\n"
        "    &size=10\n"
        "Accept: application/json\n"
        "X-Trace:  abc  \n"
        "\n"
        '{"name": "x"}\n'
        "\n"
    )
    assert req.method == "POST"
    assert req.url == "https://api.example.test/items?page=2&size=10"
    assert req.headers == [("Accept", "application/json"), ("X-Trace", "abc")]
    assert req.body == '{"name": "x"}'


def test_parse_url_only_means_get_without_body() -> None:
    req = parse_request("https://api.example.test/ping\n")
    assert (req.method, req.url, req.headers, req.body) == (
        "GET",
        "https://api.example.test/ping",
        [],
        None,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "needs a request"),
        ("# only a comment\n\n", "needs a request"),
        ("GET https://h/x extra words here", "line 1: the request line"),
        ("GET https://h/x nonsense", "line 1: the request line"),
        ("G3T https://h/x", "not an HTTP method"),
        ("GET https://h/x\nno colon here", "line 2: expected a header"),
        ("GET https://h/x\nBad Name: v", "line 2: expected a header"),
        ("GET https://h/x\n\nbody\n###\nGET https://h/y", "one request per cell"),
    ],
)
def test_parse_errors_name_the_line(text: str, message: str) -> None:
    with pytest.raises(HttpRequestError, match=message):
        parse_request(text)


def test_parse_error_does_not_quote_a_literal_header_line() -> None:
    literal = "pw-" + secrets.token_hex(12)
    with pytest.raises(HttpRequestError) as info:
        parse_request(f"GET https://h/x\n{literal}")
    assert_no_leak(str(info.value), [literal])


# ----------------------------------------------------------------------------------- render


def test_render_expands_secret_in_header_url_and_body(api_secret: str) -> None:
    req = parse_request(
        "POST https://h/x?k={{ secret('API_KEY') }}\n"
        "X-Api-Key: {{ secret('API_KEY') }}\n"
        "\n"
        '{"key": "{{ secret(\'API_KEY\') }}", "literal": {"braces": 1}}'
    )
    out = render_request(req)
    assert out.url == f"https://h/x?k={api_secret}"
    assert out.headers == [("X-Api-Key", api_secret)]
    assert out.body == f'{{"key": "{api_secret}", "literal": {{"braces": 1}}}}'
    assert req.headers == [("X-Api-Key", "{{ secret('API_KEY') }}")]  # template kept


def test_render_secret_in_namespace_and_field(monkeypatch: pytest.MonkeyPatch) -> None:
    nc.bind_secret("DB", '{"user": "app", "password": "pw-x1y2z3w4"}', namespace="team.a")
    req = HttpRequest("GET", "https://h/{{ secret('DB', field='user') }}")
    assert render_request(req, namespace="team.a").url == "https://h/app"
    with pytest.raises(SecretNotFound):
        render_request(req)  # not visible from the tenant level


def test_render_leaves_text_without_templates_untouched() -> None:
    req = HttpRequest("POST", "https://h/x", [("A", "{not a template}")], "{% if %}")
    # only '{{' or '{%' trigger Jinja; a bare "{% if %}" is a syntax error, reported cleanly
    with pytest.raises(HttpRequestError, match="template error in the body"):
        render_request(req)
    req = HttpRequest("POST", "https://h/x", [("A", "{not a template}")], '{"a": {"b": 1}}')
    assert render_request(req) == req


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "sandbox forbids"),
        ("{{ nope('x') }}", "'nope' is undefined"),
        ("{{ secret('X' }}", "template error in the URL"),
        ("{{ secret() }}", r"template error in the URL: TypeError \(.*argument"),
        ("{{ 1 / 0 }}", "template error in the URL: ZeroDivisionError. Expressions"),
    ],
)
def test_render_errors_are_http_request_errors(template: str, message: str) -> None:
    with pytest.raises(HttpRequestError, match=message):
        render_request(HttpRequest("GET", "https://h/" + template))


def test_render_error_never_quotes_an_expanded_value(api_secret: str) -> None:
    for template in (
        "{{ {}[secret('API_KEY')] }}",  # jinja would name the missing key
        "{{ {}.get(secret('API_KEY')).x }}",
        "{{ secret('API_KEY') / 2 }}",
        "{{ secret('API_KEY').nope() }}",
    ):
        with pytest.raises(HttpRequestError) as info:
            render_request(HttpRequest("GET", "https://h/" + template))
        assert str(info.value).startswith("template error in the URL: ")
        assert_no_leak(str(info.value), [api_secret.reveal()])


def test_render_missing_secret_raises_secret_not_found() -> None:
    with pytest.raises(SecretNotFound, match="Cannot find secret 'NOPE'"):
        render_request(HttpRequest("GET", "https://h/{{ secret('NOPE') }}"))


# ------------------------------------------------------------------------------------ masks


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("Authorization", "Bearer abc.def", "Bearer ****"),
        ("authorization", "opaque", "****"),
        ("Set-Cookie", "sid=abc123; Path=/; HttpOnly", "sid=****; Path=/; HttpOnly"),
        ("Cookie", "a=1; b=2", "a=****; b=****"),
        ("X-Api-Key", "k", "****"),
        ("Content-Type", "application/json", "application/json"),
    ],
)
def test_mask_header(name: str, value: str, expected: str) -> None:
    assert mask_header(name, value) == expected


# ------------------------------------------------------------------------------------- send


def test_send_echo_with_secret_header_never_shows_it(api_url: str, api_secret: str) -> None:
    result = request(
        f"POST {api_url}/echo?q=1\nX-Api-Key: {{{{ secret('API_KEY') }}}}\n\n"
        '{"n": 1, "key": "{{ secret(\'API_KEY\') }}"}'
    )
    seen = result.response.json()
    assert seen["method"] == "POST"
    assert seen["headers"]["X-Api-Key"] == api_secret  # the server got the value
    assert seen["headers"]["Content-Type"] == "application/json"  # inferred from the body
    assert api_secret in seen["body"]
    text = shown(result)
    assert "200 OK" in text
    assert f"> POST {api_url}/echo?q=1" in text  # the request line sent
    assert "> X-Api-Key: ****" in result.text()  # the header sent, masked
    assert "> Content-Type: application/json" in result.text()  # added by the engine
    assert_no_leak(text, [api_secret.reveal()])  # echoed back, masked by the engine


def test_send_secret_in_url_shows_rendered_url_masked(api_url: str, api_secret: str) -> None:
    nc.set_kv("page", 7, namespace="company.team")
    result = request(
        f"GET {api_url}/status/200?key={{{{ secret('API_KEY') }}}}&page={{{{ kv('page') }}}}",
        namespace="company.team",
    )
    text = result.text()
    assert f"> GET {api_url}/status/200?key=****&page=7" in text  # rendered, value masked
    page = result._repr_html_()
    assert f"GET {api_url}/status/200?key=****&amp;page=7" in page
    # the template is there on demand, collapsed
    assert "<details><summary>Template</summary>" in page
    assert "key={{ secret(&#x27;API_KEY&#x27;) }}&amp;page={{ kv(&#x27;page&#x27;) }}" in page
    assert_no_leak(shown(result), [api_secret.reveal()])


def test_headers_actually_sent_are_shown_masked(api_url: str, api_secret: str) -> None:
    token = "tok-" + secrets.token_hex(16)
    nc.mask(token, "test bearer")

    class Bearer(httpx.Auth):
        def auth_flow(self, req: httpx.Request) -> Any:
            req.headers["Authorization"] = f"Bearer {token}"
            yield req

    result = request(
        f"POST {api_url}/echo\nX-Api-Key: {{{{ secret('API_KEY') }}}}\nX-Trace: t-1\n\nplain body",
        auth=Bearer(),
    )
    assert result.response.json()["headers"]["Authorization"] == f"Bearer {token}"
    sent = dict(result.request_headers())
    # everything httpx sent, including what auth and the engine added
    assert sent["Authorization"] == "Bearer ****"
    assert sent["X-Api-Key"] == "****"
    assert sent["X-Trace"] == "t-1"
    assert sent["Content-Type"] == "text/plain; charset=utf-8"
    assert {"host", "user-agent", "content-length"} <= {k.lower() for k in sent}
    page = result._repr_html_()
    assert "Request headers sent (" in page
    for name in ("Authorization", "X-Api-Key", "X-Trace", "Content-Type"):
        assert f"<th scope='row'>{name}</th>" in page
    assert "<th scope='row'>Authorization</th><td>Bearer ****</td>" in page
    assert_no_leak(shown(result), [token, api_secret.reveal()])


def test_credential_like_query_and_userinfo_are_masked_even_when_literal(api_url: str) -> None:
    result = request(f"GET {api_url}/status/200?access_token=literal-abc&size=3")
    assert result.request_line() == f"GET {api_url}/status/200?access_token=****&size=3"
    assert "literal-abc" not in shown(result)
    typed = request(f"GET {api_url}/status/200\nAuthorization: Bearer typed-xyz")
    assert "Authorization: Bearer ****" in typed.template_text()
    assert "typed-xyz" not in shown(typed)
    assert mask_url("https://u:p@h.test/x?sig=s1&a=1") == "https://****:****@h.test/x?sig=****&a=1"
    assert mask_url("https://h.test/x?a=1") == "https://h.test/x?a=1"


def test_output_uses_jupyterlab_css_variables_not_hex_colours(api_url: str) -> None:
    for path in ("nested", "status/404", "text"):
        page = request(f"GET {api_url}/{path}")._repr_html_()
        assert re.search(r"#[0-9a-fA-F]{3,8}\b", page) is None, path
        assert "var(--jp-" in page
    assert "nbcreds-http-error" in request(f"GET {api_url}/status/404")._repr_html_()
    assert "var(--jp-mirror-editor-property-color" in request(f"GET {api_url}/nested")._repr_html_()


def test_result_masks_set_cookie_but_shows_plain_headers(api_url: str) -> None:
    result = request(f"GET {api_url}/cookie")
    text = result.text()
    assert "set-cookie: sid=****; Path=/; HttpOnly" in text
    assert "x-plain: visible" in text
    assert "cookie-value-123" not in shown(result)


def test_json_body_is_pretty_text_and_collapsible_html(api_url: str) -> None:
    result = request(f"GET {api_url}/nested")
    text = result.text()
    assert '"items": [\n    {\n      "id": 0,' in text
    page = result._repr_html_()
    assert page.count("<details") >= 1 + 1 + 3  # body, items, each item
    assert "{…} 2 keys" in page
    assert "[…] 3 items" in page


def test_text_binary_empty_and_error_status_bodies(api_url: str) -> None:
    assert "plain text body" in request(f"GET {api_url}/text").text()
    assert "<256 bytes of application/octet-stream>" in request(f"GET {api_url}/binary").text()
    head = request(f"HEAD {api_url}/text")
    assert "(empty body)" in head._repr_html_()
    missing = request(f"GET {api_url}/status/404")
    assert missing.response.status_code == 404
    assert "404 Not Found" in missing.text()
    assert "nbcreds-http-error" in missing._repr_html_()


def test_connection_refused_is_one_line(free_port: int) -> None:
    with pytest.raises(HttpRequestError) as info:
        request(f"GET http://127.0.0.1:{free_port}/x?token=abc")
    message = str(info.value)
    assert message == (
        f"GET 127.0.0.1:{free_port}: connection refused: is the server running on that port?"
    )


def test_timeout_is_one_line(api_url: str) -> None:
    with pytest.raises(HttpRequestError, match=r"timed out after 0.3 s while waiting"):
        request(f"GET {api_url}/slow", timeout=0.3)


def _failing(exc: Exception) -> httpx.MockTransport:
    def handler(req: httpx.Request) -> httpx.Response:
        raise exc

    return httpx.MockTransport(handler)


def test_dns_failure_is_one_line() -> None:
    err = httpx.ConnectError("[Errno -2] Name or service not known")
    err.__cause__ = socket.gaierror(-2, "Name or service not known")
    with pytest.raises(HttpRequestError) as info:
        request("GET https://no-such-host.example.test/x", transport=_failing(err))
    assert str(info.value) == (
        "GET no-such-host.example.test: cannot resolve the host name (DNS): check the URL."
    )


def test_tls_failure_is_one_line() -> None:
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate"
    err = httpx.ConnectError("certificate verify failed")
    err.__cause__ = cause
    with pytest.raises(HttpRequestError) as info:
        request("GET https://self-signed.example.test:8443/", transport=_failing(err))
    assert str(info.value) == (
        "GET self-signed.example.test:8443: TLS error: self-signed certificate."
    )


def test_url_must_be_http_after_expansion() -> None:
    with pytest.raises(HttpRequestError, match="must start with http:// or https://"):
        send(HttpRequest("GET", "ftp://h/x"))
    with pytest.raises(HttpRequestError, match="needs a host"):
        send(HttpRequest("GET", "http:///x"))


def test_auth_object_is_applied(api_url: str) -> None:
    token = "bearer-" + secrets.token_hex(16)
    nc.mask(token, "test bearer")

    class Bearer(httpx.Auth):
        def auth_flow(self, req: httpx.Request) -> Any:
            req.headers["Authorization"] = f"Bearer {token}"
            yield req

    result = request(f"GET {api_url}/echo", auth=Bearer())
    assert result.response.json()["headers"]["Authorization"] == f"Bearer {token}"
    assert_no_leak(shown(result), [token])


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
