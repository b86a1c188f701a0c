"""AWS Secrets Manager and SSM Parameter Store, through boto3 (extra ``aws``).

References:

- ``aws:SECRET_ID`` — a Secrets Manager secret (name or ARN): its ``SecretString``
  (or ``SecretBinary`` decoded as UTF-8); ``aws:SECRET_ID#field`` picks one field of
  a JSON secret;
- ``aws-ssm:/path/name`` — an SSM parameter (``SecureString`` decrypted).

As a source in ``[sources] order``, ``secret("NAME")`` at level ``a.b`` reads the
Secrets Manager secret ``<path_prefix>/a/b/NAME`` (tenant level:
``<path_prefix>/NAME``), as the Vault source lays its paths out.

Settings (``[sources.aws]``): ``region``, ``profile``, ``endpoint_url``,
``path_prefix``, ``timeout``, ``max_attempts``. Credentials come from the
standard AWS chain (environment, shared files, SSO, instance roles), never from
``nbcreds.toml``. The source only reads. Throttling is retried by botocore's
``standard`` retry mode (bounded by ``max_attempts``); AccessDenied, throttling
after the last attempt and connection failures become
:class:`~nbcreds.SecretBackendError` naming the secret id, never a value.
boto3 is imported when the first client is built.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .._exceptions import SecretBackendError, SecretError
from ..plugins import Setting, SourceContext, SourceType
from ._base import SecretData, SecretSource

if TYPE_CHECKING:
    from ..config import Reference

__all__ = ["SOURCE", "AwsSource"]

log = logging.getLogger("nbcreds.secrets.aws")

T = TypeVar("T")

_MISSING = {"ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound"}
_DENIED = {"AccessDeniedException", "AccessDenied", "UnrecognizedClientException"}
_THROTTLED = {
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ThrottledException",
}
_DECRYPT = {"DecryptionFailure", "KMSAccessDeniedException", "KMSDisabledException"}


class AwsSource(SecretSource):
    """Read-only secrets from AWS Secrets Manager (and SSM Parameter Store references)."""

    name = "aws"

    def __init__(
        self,
        *,
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        path_prefix: str = "nbcreds",
        timeout: float = 10.0,
        max_attempts: int = 4,
    ) -> None:
        self.region = region
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.path_prefix = path_prefix.strip("/")
        self.timeout = timeout
        self.max_attempts = max_attempts
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}

    # --- SecretSource -----------------------------------------------------------------

    def get(self, namespace: str | None, name: str) -> SecretData | None:
        parts = [self.path_prefix, *(namespace.split(".") if namespace else []), name]
        return self.read_secret("/".join(p for p in parts if p))

    def names(self, namespace: str | None) -> list[str]:
        parts = [self.path_prefix, *(namespace.split(".") if namespace else [])]
        folder = "/".join(p for p in parts if p)
        prefix = f"{folder}/" if folder else ""

        def list_names(client: Any) -> list[str]:
            found: list[str] = []
            paginator = client.get_paginator("list_secrets")
            filters = [{"Key": "name", "Values": [prefix]}] if prefix else []
            for page in paginator.paginate(Filters=filters):
                for entry in page.get("SecretList", []):
                    rest = str(entry.get("Name", ""))[len(prefix) :]
                    if rest and "/" not in rest:
                        found.append(rest)
            return sorted(set(found))

        return self._call("secretsmanager", "list", prefix or "secrets", list_names) or []

    def read_reference(self, ref: Reference) -> SecretData | None:
        """``aws:SECRET_ID`` (the resolver picks ``#field``) or ``aws-ssm:/path/name``."""
        if ref.scheme == "aws-ssm":
            return self.read_parameter(ref.target)
        return self.read_secret(ref.target)

    def describe(self) -> str:
        where = self.endpoint_url or f"region {self.region or '(from the AWS chain)'}"
        return f"aws ({where})"

    def __repr__(self) -> str:
        return f"<AwsSource {self.describe()}>"

    def close(self) -> None:
        with self._lock:
            clients, self._clients = self._clients, {}
        for client in clients.values():
            close = getattr(client, "close", None)
            if callable(close):
                close()

    # --- reads ------------------------------------------------------------------------

    def read_secret(self, secret_id: str) -> str | None:
        """A Secrets Manager secret's current value, None when it does not exist."""

        def read(client: Any) -> str | None:
            response = client.get_secret_value(SecretId=secret_id)
            if "SecretString" in response:
                return str(response["SecretString"])
            binary = response.get("SecretBinary")
            if isinstance(binary, bytes | bytearray):
                try:
                    return bytes(binary).decode("utf-8")
                except UnicodeDecodeError:
                    raise SecretError(
                        f"AWS secret '{secret_id}' holds binary data that is not UTF-8 text; "
                        "nbcreds secrets are text"
                    ) from None
            return None

        return self._call("secretsmanager", "read secret", secret_id, read)

    def read_parameter(self, name: str) -> str | None:
        """An SSM parameter's value (SecureString decrypted), None when it does not exist."""

        def read(client: Any) -> str | None:
            response = client.get_parameter(Name=name, WithDecryption=True)
            return str(response["Parameter"]["Value"])

        return self._call("ssm", "read parameter", name, read)

    # --- the clients ------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._lock:
            client = self._clients.get(service)
            if client is not None:
                return client
        try:
            import boto3
            from botocore.config import Config as BotoConfig
        except ImportError:
            raise SecretBackendError(
                "the aws source needs boto3: pip install 'nbcreds[aws]'"
            ) from None
        boto_config = BotoConfig(
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            # total_max_attempts counts the first attempt (botocore's max_attempts does not)
            retries={"mode": "standard", "total_max_attempts": self.max_attempts},
        )
        failure = None
        try:
            session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
            client = session.client(service, endpoint_url=self.endpoint_url, config=boto_config)
        except Exception as exc:  # ProfileNotFound, NoRegionError, ...
            failure = exc
        if failure is not None:
            raise SecretBackendError(
                f"cannot set up the AWS {service} client: {_botocore_reason(failure)}"
            )
        with self._lock:
            return self._clients.setdefault(service, client)

    def _call(self, service: str, action: str, target: str, call: Callable[[Any], T]) -> T | None:
        """``call(client)``; None when the secret does not exist; our errors otherwise.

        The typed error is raised outside the ``except`` block, so no botocore
        exception (with its request and signed headers) hangs off it.
        """
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._client(service)
        message: str | None = None
        try:
            return call(client)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in _MISSING:
                return None
            message = self._client_error(code, status, action, target)
        except BotoCoreError as exc:
            message = f"AWS {service} {action} '{target}' failed: {_botocore_reason(exc)}"
        raise SecretBackendError(message)

    def _client_error(self, code: str, status: Any, action: str, target: str) -> str:
        if code in _DENIED:
            return (
                f"AWS refused to {action} '{target}' ({code}): the credentials from the AWS "
                "chain lack permission (secretsmanager:GetSecretValue / ssm:GetParameter, "
                "kms:Decrypt) or are not valid"
            )
        if code in _THROTTLED:
            return (
                f"AWS throttled {action} '{target}' ({code}) after {self.max_attempts} "
                "attempts; try again later or raise [sources.aws] max_attempts"
            )
        if code in _DECRYPT:
            return f"AWS could not decrypt '{target}' ({code}): check its KMS key and policy"
        shown = f"HTTP {status}, " if status else ""
        return f"AWS {action} '{target}' failed ({shown}{code or 'unknown error'})"


def _botocore_reason(exc: BaseException) -> str:
    """What went wrong, for botocore's own errors (their messages name endpoints,
    profiles and regions, not credentials)."""
    from botocore.exceptions import NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials found; set AWS_PROFILE or AWS_ACCESS_KEY_ID / "
            "AWS_SECRET_ACCESS_KEY in the environment, or log in with `aws sso login`"
        )
    if isinstance(exc, NoRegionError):
        return "no AWS region; set [sources.aws] region or AWS_DEFAULT_REGION"
    return f"{type(exc).__name__}: {exc}"


# --- the plugin declaration (entry point nbcreds.secret_sources: aws) -------------------------


def _build(ctx: SourceContext) -> SecretSource:
    s = ctx.settings
    return AwsSource(
        region=s.get("region"),
        profile=s.get("profile"),
        endpoint_url=s.get("endpoint_url"),
        path_prefix=str(s.get("path_prefix", "nbcreds")),
        timeout=float(s.get("timeout", 10.0)),
        max_attempts=int(s.get("max_attempts", 4)),
    )


def _not_empty(value: Any) -> str | None:
    return None if value else "must not be empty"


def _positive(value: Any) -> str | None:
    return None if value > 0 else "must be a positive number of seconds"


def _attempts(value: Any) -> str | None:
    return None if 1 <= value <= 10 else "must be a whole number from 1 to 10"


def _endpoint(value: Any) -> str | None:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    if parts.username or parts.password:
        return "must not hold credentials (they come from the AWS chain)"
    return None


SOURCE = SourceType(
    name="aws",
    build=_build,
    position=60,
    schemes=("aws", "aws-ssm"),
    reference_forms={"aws": "aws:SECRET_ID#field", "aws-ssm": "aws-ssm:/path/name"},
    reference_labels={"aws": "AWS Secrets Manager secret", "aws-ssm": "AWS SSM parameter"},
    default_order=False,
    settings=(
        Setting("region", check=_not_empty, help="default: the AWS chain's"),
        Setting("profile", check=_not_empty, help="a profile of ~/.aws/config"),
        Setting("endpoint_url", check=_endpoint, help="another endpoint (moto, LocalStack)"),
        Setting("path_prefix", default="nbcreds", help="secret names' first segments"),
        Setting("timeout", kind="number", default=10, check=_positive, help="seconds"),
        Setting(
            "max_attempts",
            kind="integer",
            default=4,
            check=_attempts,
            help="attempts per request (botocore standard retries, throttling included)",
        ),
    ),
    description="AWS Secrets Manager and SSM Parameter Store (boto3, extra 'aws'); "
    "credentials from the AWS chain, read-only",
)
