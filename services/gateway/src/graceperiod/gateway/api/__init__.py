"""The JSON API under ``/api`` (OpenAPI 3.1 at ``/schema/openapi.json``)."""
