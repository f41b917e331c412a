"""OpenAPI corrections, so the document says exactly what the API does.

* The contracts' ``Money`` is a ``Decimal`` serialised as its exact string ("13140.00");
  Litestar would describe a constrained ``Decimal`` as a JSON number.
* Request bodies reject unknown fields (``extra="forbid"``); Litestar does not emit
  ``additionalProperties: false`` for that, so clients (and fuzzers) would think extras
  are allowed.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from litestar.openapi.spec import Schema
from litestar.plugins import OpenAPISchemaPlugin
from litestar.plugins.pydantic import PydanticSchemaPlugin

from graceperiod.gateway.web.schemas import RequestBody

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
