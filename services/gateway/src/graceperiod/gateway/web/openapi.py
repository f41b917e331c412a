"""The OpenAPI document of the JSON API: its configuration (title, security schemes) and the
corrections that make it say exactly what the API does:

* The contracts' ``Money`` is a ``Decimal`` serialised as its exact string ("13140.00");
  Litestar would describe a constrained ``Decimal`` as a JSON number.
* Request bodies reject unknown fields (``extra="forbid"``); Litestar does not emit
  ``additionalProperties: false`` for that, so clients (and fuzzers) would think extras
  are allowed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.openapi.spec import Components, Schema, SecurityRequirement, SecurityScheme
from litestar.plugins import OpenAPISchemaPlugin
from litestar.plugins.pydantic import PydanticSchemaPlugin

from graceperiod.gateway.web.schemas import RequestBody
from graceperiod.runtime.worker import VERSION

if TYPE_CHECKING:
    from litestar._openapi.schema_generation import SchemaCreator
    from litestar.typing import FieldDefinition


class DecimalAsString(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return value is Decimal

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        return Schema(
            type="string",  # type: ignore[arg-type]
            pattern=r"^-?\d+(\.\d+)?$",
            description='An exact decimal amount as a string, e.g. "13140.00".',
        )


class ClosedRequestBodies(OpenAPISchemaPlugin):
    @staticmethod
    def is_plugin_supported_type(value: Any) -> bool:
        return isinstance(value, type) and issubclass(value, RequestBody)

    def to_openapi_schema(self, field_definition: FieldDefinition, schema_creator: SchemaCreator) -> Schema:
        schema = PydanticSchemaPlugin.for_pydantic_model(field_definition, schema_creator)
        schema.additional_properties = False
        return schema


#: How every JSON API route may be called: an API token, or the dashboard's session cookie.
API_SECURITY: list[SecurityRequirement] = [{"BearerToken": []}, {"SessionCookie": []}]

DESCRIPTION = (
    "JSON API for the Grace Period frontend. Authenticate with `Authorization: Bearer <JWT>` "
    "(issued by the configured identity provider), or with the dashboard's session cookie plus "
    "the `X-CSRFToken` header on writes. Errors are RFC 9457 problem details "
    "(`application/problem+json`) with a human `detail` and the `request_id` to quote. "
    "The email-link pages (`/api/purchases/{id}/revoke?token=…`) are HTML and documented in "
    "docs/gateway.md."
)

BEARER_TOKEN = SecurityScheme(
    type="http",
    scheme="bearer",
    bearer_format="JWT",
    description=(
        "`Authorization: Bearer <JWT>`. Any other Authorization header (another scheme, no "
        "token, a token that is not a well-formed, valid and unexpired JWT of a trusted issuer) "
        "is answered 401 with problem details and a `WWW-Authenticate: Bearer` challenge, "
        "even where a session cookie is also sent. `/health` and `/ready` ignore the header."
    ),
)


def openapi_config() -> OpenAPIConfig:
    return OpenAPIConfig(
        title="Grace Period gateway",
        version=VERSION,
        description=DESCRIPTION,
        path="/schema",
        render_plugins=[JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": BEARER_TOKEN,
                "SessionCookie": SecurityScheme(type="apiKey", name="gp_session", security_scheme_in="cookie"),
            }
        ),
    )
