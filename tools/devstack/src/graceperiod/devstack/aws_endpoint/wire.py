"""AWS wire protocols, server side: read a request, write a response or an error.

Responses are serialised from botocore's own service models (the shapes the real client
parses), so member names, list wrappers and timestamp formats are AWS's, not guesses.
Protocols: ``query`` (STS, RDS, ElastiCache, Redshift), ``ec2``, ``json`` (Support,
MemoryDB, Cost Explorer, Organizations) and ``rest-json`` (Savings Plans, OpenSearch, Account).
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any, Protocol
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element, SubElement, tostring

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape

from graceperiod.devstack.servers.emulators import parse_iso

EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


@dataclass(frozen=True)
class SigV4Scope:
    """What the Authorization header says about the caller: key id, region and service."""

    access_key: str
    region: str
    service: str


def credential_scope(authorization: str | None) -> SigV4Scope | None:
    match = _CREDENTIAL.search(authorization or "")
    if not match:
        return None
    return SigV4Scope(access_key=match.group(1), region=match.group(3), service=match.group(4))


@cache
def service_model(name: str) -> ServiceModel:
    model: ServiceModel = botocore.session.get_session().get_service_model(name)
    return model


def iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class QueryArgs(Protocol):
    def __contains__(self, key: object) -> bool: ...
    def __getitem__(self, key: str) -> str: ...
    def getlist(self, key: str) -> list[str]: ...


@cache
def rest_routes(service: str, operations: frozenset[str]) -> dict[tuple[str, str], str]:
    """(HTTP method, path) → operation, from the service model, for a rest-json service."""
    model = service_model(service)
    routes = {}
    for name in operations:
        http = model.operation_model(name).http
        routes[(http["method"], http["requestUri"].split("?", 1)[0])] = name
    return routes


def decode_rest(service: str, operation: str, args: QueryArgs, body: bytes) -> dict[str, Any]:
    """A rest-json request's parameters under the model's member names (query string and body)."""
    shape = service_model(service).operation_model(operation).input_shape
    raw = json.loads(body) if body else {}
    if shape is None:
        return dict(raw)
    params: dict[str, Any] = {}
    for name, member in shape.members.items():
        wire = member.serialization.get("name", name)
        location = member.serialization.get("location")
        if location == "querystring" and wire in args:
            params[name] = args.getlist(wire) if member.type_name == "list" else args[wire]
        elif location is None and wire in raw:
            params[name] = raw[wire]
    return params


def parse_timestamp(value: object) -> datetime:
    """A timestamp as a client sent it: epoch seconds (rest-json, json) or ISO 8601 (query, ec2)."""
    if isinstance(value, int | float) or (isinstance(value, str) and value.replace(".", "", 1).isdigit()):
        return datetime.fromtimestamp(float(value), UTC)
    return parse_iso(str(value))


def parse_form(body: bytes) -> dict[str, Any]:
    """A query-protocol form (``A.1.B=x``) as nested values: numbered keys become lists and
    the ``member`` level of non-flattened lists disappears."""
    tree: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        node = tree
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    parsed: dict[str, Any] = _listify(tree)
    return parsed


def _listify(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    if set(node) == {"member"}:
        return _listify(node["member"])
    if node and all(key.isdigit() for key in node):
        return [_listify(node[key]) for key in sorted(node, key=int)]
    return {key: _listify(value) for key, value in node.items()}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def new_request_id() -> str:
    return str(uuid.uuid4())


# --- success ---------------------------------------------------------------------------


def success(service: str, operation: str, data: dict[str, Any], request_id: str) -> Reply:
    model = service_model(service)
    op = model.operation_model(operation)
    if model.protocol in ("query", "ec2"):
        return Reply(200, _xml_response(model, op, data, request_id), {"Content-Type": "text/xml"})
    body = _json_value(op.output_shape, data) if op.output_shape is not None else {}
    content_type = "application/x-amz-json-1.1" if model.protocol == "json" else "application/json"
    return Reply(200, json.dumps(body).encode(), {"Content-Type": content_type, "x-amzn-RequestId": request_id})


def _xml_response(model: ServiceModel, op: OperationModel, data: dict[str, Any], request_id: str) -> bytes:
    namespace = EC2_NAMESPACE if model.protocol == "ec2" else model.metadata.get("xmlNamespace", "")
    root = Element(f"{op.name}Response", xmlns=namespace)
    container = root
    if model.protocol == "ec2":
        SubElement(root, "requestId").text = request_id
    elif op.output_shape is not None:
        wrapper = op.output_shape.serialization.get("resultWrapper")
        container = SubElement(root, wrapper) if wrapper else root
    if op.output_shape is not None:
        _xml_value(container, op.output_shape, data, model.protocol)
    if model.protocol == "query":
        SubElement(SubElement(root, "ResponseMetadata"), "RequestId").text = request_id
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True))


def _xml_value(element: Element, shape: Shape, value: Any, protocol: str) -> None:
    kind = shape.type_name
    if kind == "structure":
        for name, member in shape.members.items():
            if isinstance(value, dict) and value.get(name) is not None:
                tag = member.serialization.get("name", name)
                if member.type_name == "list" and member.serialization.get("flattened"):
                    for item in value[name]:
                        _xml_value(SubElement(element, tag), member.member, item, protocol)
                else:
                    _xml_value(SubElement(element, tag), member, value[name], protocol)
    elif kind == "list":
        item_tag = shape.member.serialization.get("name", "item" if protocol == "ec2" else "member")
        for item in value:
            _xml_value(SubElement(element, item_tag), shape.member, item, protocol)
    elif kind == "timestamp":
        element.text = iso(value) if isinstance(value, datetime) else str(value)
    elif kind == "boolean":
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


def _json_value(shape: Shape | None, value: Any) -> Any:
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {
            member.serialization.get("name", name): _json_value(member, value[name])
            for name, member in members.items()
            if value.get(name) is not None and member.serialization.get("location") is None
        }
    if kind == "list":
        return [_json_value(shape.member, item) for item in value]
    if kind == "timestamp" and isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, datetime):
        return iso(value)
    return value


# --- errors ----------------------------------------------------------------------------


def error(service: str, code: str, message: str, status: int, request_id: str, *, sender: bool = True) -> Reply:
    """An error in the service's protocol, shaped as botocore parses it."""
    protocol = service_model(service).protocol if service else "rest-json"
    if protocol == "ec2":
        root = Element("Response")
        err = SubElement(SubElement(root, "Errors"), "Error")
        SubElement(err, "Code").text = code
        SubElement(err, "Message").text = message
        SubElement(root, "RequestID").text = request_id
        return Reply(
            status, bytes(tostring(root, encoding="utf-8", xml_declaration=True)), {"Content-Type": "text/xml"}
        )
    if protocol == "query":
        namespace = service_model(service).metadata.get("xmlNamespace", "")
        root = Element("ErrorResponse", xmlns=namespace)
        err = SubElement(root, "Error")
        SubElement(err, "Type").text = "Sender" if sender else "Receiver"
        SubElement(err, "Code").text = code
        SubElement(err, "Message").text = message
        SubElement(root, "RequestId").text = request_id
        return Reply(
            status, bytes(tostring(root, encoding="utf-8", xml_declaration=True)), {"Content-Type": "text/xml"}
        )
    if protocol == "json":
        body = json.dumps({"__type": code, "message": message}).encode()
        return Reply(status, body, {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": request_id})
    body = json.dumps({"message": message}).encode()
    return Reply(
        status, body, {"Content-Type": "application/json", "x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    )


#: The throttling error each service answers (botocore's retry logic knows every one of them):
#: per service where it has its own, else per protocol. EC2: RequestLimitExceeded (EC2 API
#: throttling page); query services (STS, RDS, ElastiCache, Redshift) answer ``Throttling`` on
#: the wire (seen from RDS in aws/aws-cli#8604, although RDS's page prints ThrottlingException);
#: Cost Explorer models LimitExceededException ("You made too many calls in a short period of
#: time"), Account Management and Organizations TooManyRequestsException.
THROTTLE_BY_SERVICE = {
    "ce": ("LimitExceededException", 400),
    "account": ("TooManyRequestsException", 429),
    "organizations": ("TooManyRequestsException", 400),
}
THROTTLE = {"ec2": ("RequestLimitExceeded", 503), "query": ("Throttling", 400)}
SERVER_ERROR = {
    "ec2": ("InternalError", 500),
    "query": ("InternalFailure", 500),
    "support": ("InternalServerError", 500),
}


def throttle_error(service: str) -> tuple[str, int]:
    if service in THROTTLE_BY_SERVICE:
        return THROTTLE_BY_SERVICE[service]
    protocol = service_model(service).protocol
    return THROTTLE.get(protocol, ("ThrottlingException", 400))


def invalid_token(service: str) -> str:
    """The code of "the security token included in the request is invalid", per protocol."""
    protocol = service_model(service).protocol
    return {"query": "InvalidClientTokenId", "ec2": "AuthFailure"}.get(protocol, "UnrecognizedClientException")


def server_error(service: str) -> tuple[str, int]:
    protocol = service_model(service).protocol
    return SERVER_ERROR.get(service) or SERVER_ERROR.get(protocol) or ("InternalServerException", 500)


def access_denied(service: str, action: str, principal: str) -> tuple[str, int, str]:
    protocol = service_model(service).protocol
    if protocol == "ec2":
        return (
            "UnauthorizedOperation",
            403,
            "You are not authorized to perform this operation. "
            f"User: {principal} is not authorized to perform: {action}. "
            "Encoded authorization failure message: emulator-denied",
        )
    code = "AccessDenied" if protocol == "query" else "AccessDeniedException"
    return code, 403, f"User: {principal} is not authorized to perform: {action}"
