"""Settings every service shares. Each service subclasses :class:`ServiceSettings`.

Shared connection settings are read from unprefixed variables (``AMQP_URL``,
``MONGODB_URL``, ``LOG_LEVEL``, ``LOG_FORMAT``) so one environment file serves the
whole stack; a service's own settings use its prefix (``REVOCATION_HTTP_PORT``, ...).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ClassVar, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graceperiod.contracts.identities import BrokerIdentity
from graceperiod.runtime.signing_keys import PublicKeys
from graceperiod.runtime.tracing import exporter_names

if TYPE_CHECKING:  # the AWS SDK is an extra (graceperiod-runtime[aws]): the gateway's image has none
    from graceperiod.runtime.aws import ClientOptions

RetryMode = Literal["standard", "adaptive"]


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


#: A list read from one variable as comma-separated words (``a, b``; empty parts dropped).
CommaSeparated = Annotated[list[str], NoDecode, BeforeValidator(_split_commas)]
#: How long an assumed role's credentials last: what STS AssumeRole's DurationSeconds takes.
RoleSessionSeconds = Annotated[int, Field(ge=900, le=43200)]


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    #: The RabbitMQ user this process connects as (``graceperiod.contracts.identities``).
    broker_identity: ClassVar[BrokerIdentity | None] = None

    amqp_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/",
        validation_alias="AMQP_URL",
        description=(
            "RabbitMQ connection URL (vhost included). Its credentials are used as they are unless "
            "<PREFIX>_AMQP_PASSWORD is set."
        ),
    )
    amqp_password: SecretStr | None = Field(
        default=None,
        description=(
            "This process's RabbitMQ password. Set, it replaces the credentials of AMQP_URL: the process "
            "connects as its own broker identity (graceperiod-<service>), whose events the consumers "
            "believe (docs/security.md)."
        ),
    )
    assertion_public_keys_dir: Path | None = Field(
        default=None,
        validation_alias="ASSERTION_PUBLIC_KEYS_DIR",
        description=(
            "Directory of the gateway's Ed25519 public keys (<kid>.pem) that verify the actor assertion of every "
            "command and query (docs/security.md); without them (or ASSERTION_JWKS_FILE) the gateway's requests "
            "are refused."
        ),
    )
    assertion_jwks_file: Path | None = Field(
        default=None,
        validation_alias="ASSERTION_JWKS_FILE",
        description="A JWKS file of the gateway's actor-assertion public keys (instead of, or beside, the directory).",
    )
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27017/",
        validation_alias="MONGODB_URL",
        description="MongoDB (or FerretDB) connection URL; each service uses its own database on it.",
    )
    log_level: str = Field(default="INFO", validation_alias="LOG_LEVEL")
    log_format: Literal["json", "console"] = Field(default="json", validation_alias="LOG_FORMAT")
    log_messages: bool = Field(
        default=False,
        validation_alias="LOG_MESSAGES",
        description="Log every consumed message at INFO (costs ~30% throughput; for debugging).",
    )

    otel_traces_exporter: str = Field(
        default="none",
        validation_alias="OTEL_TRACES_EXPORTER",
        description=(
            "Tracing: none (off), otlp (to OTEL_EXPORTER_OTLP_ENDPOINT, default http://localhost:4318) or console, "
            "comma-separated; the other OTEL_* variables configure them (docs/operations.md#tracing)."
        ),
    )
    traces_file: Path | None = Field(
        default=None,
        validation_alias="TRACES_FILE",
        description=(
            "Tracing: also append finished spans to this file as JSON lines (turns tracing on); "
            "{service} in the name becomes the service's name."
        ),
    )

    # Per-service values; subclasses give them defaults and an env prefix.
    mongodb_database: str = "graceperiod"
    http_host: str = "127.0.0.1"
    http_port: int = 8080

    prefetch: int = Field(default=32, ge=1, le=1000, description="Unacked messages in flight per queue.")
    max_handler_errors: int = Field(
        default=5,
        ge=1,
        description="Attempts before a message whose handler keeps raising an unexpected error is dead-lettered.",
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Larger bodies are dead-lettered unread.")
    retry_backoff_base_seconds: float = Field(default=0.2, gt=0)
    retry_backoff_cap_seconds: float = Field(default=10.0, gt=0)
    mongodb_server_selection_timeout_ms: int = Field(default=3000, ge=100)
    inbox_retention_days: int = Field(default=14, ge=1, description="How long handled message ids are remembered.")

    @field_validator("otel_traces_exporter")
    @classmethod
    def _known_exporters(cls, value: str) -> str:
        exporter_names(value)
        return value

    @property
    def broker_url(self) -> str:
        """The AMQP URL this process connects with: ``amqp_url`` with its own identity's
        credentials when ``amqp_password`` is set."""
        if self.amqp_password is None or self.broker_identity is None:
            return self.amqp_url
        return with_credentials(self.amqp_url, self.broker_identity, self.amqp_password.get_secret_value())


class AwsServiceSettings(ServiceSettings):
    """The settings of a service that calls AWS: its botocore client settings, under the service's
    prefix (``<PREFIX>_AWS_RETRY_MODE``, ...).

    AWS endpoints are never configured here: clients use AWS's own endpoints unless the standard
    ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` variables say otherwise.
    """

    aws_retry_mode: RetryMode = Field(
        default="standard", description="botocore retry mode (adaptive adds client-side rate limiting)."
    )
    aws_max_attempts: int = Field(default=4, ge=1, description="botocore attempts per call, first one included.")
    aws_connect_timeout_seconds: float = Field(default=5.0, gt=0, description="AWS connection timeout.")
    aws_read_timeout_seconds: float = Field(default=15.0, gt=0, description="AWS read timeout per request.")

    def aws_client_options(
        self, *, session_name: str, session_seconds: int, refresh_margin: timedelta = timedelta(minutes=5)
    ) -> ClientOptions:
        """The AWS clients' options, with the session of the role the service assumes."""
        from graceperiod.runtime.aws import ClientOptions  # noqa: PLC0415 (only services with the aws extra call it)

        return ClientOptions(
            retry_mode=self.aws_retry_mode,
            max_attempts=self.aws_max_attempts,
            connect_timeout=self.aws_connect_timeout_seconds,
            read_timeout=self.aws_read_timeout_seconds,
            session_name=session_name,
            session_seconds=session_seconds,
            refresh_margin=refresh_margin,
        )


class LinkKeySettings(BaseSettings):
    """The settings of a service that verifies email links itself (the gateway, the revocation
    service): the notifier's public link keys, under the service's prefix
    (``<PREFIX>_LINK_PUBLIC_KEYS_DIR``, ...)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True, populate_by_name=True)  # as ServiceSettings

    link_public_keys_dir: Path | None = Field(
        default=None, description="Directory of the notifier's Ed25519 public link keys (<kid>.pem)."
    )
    link_jwks_file: Path | None = Field(
        default=None,
        description="A JWKS file of the notifier's public link keys (instead of, or beside, the directory).",
    )
    link_leeway_seconds: int = Field(
        default=0, ge=0, le=300, description="How long past its expiry a link is still taken (clock skew)."
    )

    def link_public_keys(self) -> PublicKeys:
        return PublicKeys.from_files(self.link_public_keys_dir, self.link_jwks_file)


def with_credentials(url: str, user: str, password: str) -> str:
    """``url`` (host, port, vhost) with other credentials."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def broker_user(url: str) -> str:
    """The user an AMQP URL connects as (RabbitMQ's default, guest, when it names none)."""
    return urlsplit(url).username or "guest"
