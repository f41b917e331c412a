"""Reserved nodes of RDS, ElastiCache, Redshift, MemoryDB and OpenSearch (regional): each
product's ``Describe*Offerings``, its purchase and its describe. No cancel API exists.

One table (:data:`PRODUCTS`) says how each product names things; the records hold every
field any of them uses, and the wire layer writes only the members of the product's own
output shape. A purchase is ``payment-pending`` (Redshift: ``pending-payment``) for the
emulator's payment delay, then ``active``.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call, page
from graceperiod.devstack.aws_endpoint.catalogue import PRODUCT_DESCRIPTIONS, Offering, offering_by_id, offerings
from graceperiod.devstack.aws_endpoint.state import CHANGING_STATES, Account, Emulator
from graceperiod.devstack.servers.emulators import parse_iso


@dataclass(frozen=True)
class NodeProduct:
    service: str
    describe: str
    result: str
    #: The reservation's id: field in the record, and the describe's filter parameter.
    id_field: str
    id_param: str
    not_found: tuple[str, int]
    offerings: str
    offerings_result: str
    #: The offering id: field in records and offerings, and the parameter naming it.
    offering_field: str
    offering_param: str
    offering_not_found: tuple[str, int]
    purchase: str
    #: The purchase's answer wraps the record under this key (OpenSearch answers flat).
    purchase_result: str | None
    count_param: str
    count_field: str
    type_field: str
    #: The reservation id a buyer may choose (RDS, ElastiCache, MemoryDB) and its conflict error.
    chosen_id_param: str | None
    already_exists: tuple[str, int]
    payment_field: str = "OfferingType"
    pending_state: str = "payment-pending"
    paging: tuple[str, str, int, int, int] = ("MaxRecords", "Marker", 100, 20, 100)


PRODUCTS: dict[str, NodeProduct] = {
    "rds": NodeProduct(
        "rds",
        "DescribeReservedDBInstances",
        "ReservedDBInstances",
        "ReservedDBInstanceId",
        "ReservedDBInstanceId",
        ("ReservedDBInstanceNotFound", 404),
        "DescribeReservedDBInstancesOfferings",
        "ReservedDBInstancesOfferings",
        "ReservedDBInstancesOfferingId",
        "ReservedDBInstancesOfferingId",
        ("ReservedDBInstancesOfferingNotFound", 404),
        "PurchaseReservedDBInstancesOffering",
        "ReservedDBInstance",
        "DBInstanceCount",
        "DBInstanceCount",
        "DBInstanceClass",
        "ReservedDBInstanceId",
        ("ReservedDBInstanceAlreadyExists", 404),
    ),
    "elasticache": NodeProduct(
        "elasticache",
        "DescribeReservedCacheNodes",
        "ReservedCacheNodes",
        "ReservedCacheNodeId",
        "ReservedCacheNodeId",
        ("ReservedCacheNodeNotFound", 404),
        "DescribeReservedCacheNodesOfferings",
        "ReservedCacheNodesOfferings",
        "ReservedCacheNodesOfferingId",
        "ReservedCacheNodesOfferingId",
        ("ReservedCacheNodesOfferingNotFound", 404),
        "PurchaseReservedCacheNodesOffering",
        "ReservedCacheNode",
        "CacheNodeCount",
        "CacheNodeCount",
        "CacheNodeType",
        "ReservedCacheNodeId",
        ("ReservedCacheNodeAlreadyExists", 404),
    ),
    "redshift": NodeProduct(
        "redshift",
        "DescribeReservedNodes",
        "ReservedNodes",
        "ReservedNodeId",
        "ReservedNodeId",
        ("ReservedNodeNotFound", 404),
        "DescribeReservedNodeOfferings",
        "ReservedNodeOfferings",
        "ReservedNodeOfferingId",
        "ReservedNodeOfferingId",
        ("ReservedNodeOfferingNotFound", 404),
        "PurchaseReservedNodeOffering",
        "ReservedNode",
        "NodeCount",
        "NodeCount",
        "NodeType",
        None,
        ("ReservedNodeAlreadyExists", 404),
        pending_state="pending-payment",
    ),
    "memorydb": NodeProduct(
        "memorydb",
        "DescribeReservedNodes",
        "ReservedNodes",
        "ReservationId",
        "ReservationId",
        ("ReservedNodeNotFoundFault", 400),
        "DescribeReservedNodesOfferings",
        "ReservedNodesOfferings",
        "ReservedNodesOfferingId",
        "ReservedNodesOfferingId",
        ("ReservedNodesOfferingNotFoundFault", 400),
        "PurchaseReservedNodesOffering",
        "ReservedNode",
        "NodeCount",
        "NodeCount",
        "NodeType",
        "ReservationId",
        ("ReservedNodeAlreadyExistsFault", 400),
        paging=("MaxResults", "NextToken", 100, 1, 100),
    ),
    "opensearch": NodeProduct(
        "opensearch",
        "DescribeReservedInstances",
        "ReservedInstances",
        "ReservedInstanceId",
        "ReservedInstanceId",
        ("ResourceNotFoundException", 409),
        "DescribeReservedInstanceOfferings",
        "ReservedInstanceOfferings",
        "ReservedInstanceOfferingId",
        "ReservedInstanceOfferingId",
        ("ResourceNotFoundException", 409),
        "PurchaseReservedInstanceOffering",
        None,
        "InstanceCount",
        "InstanceCount",
        "InstanceType",
        None,
        ("ResourceAlreadyExistsException", 409),
        payment_field="PaymentOption",
        paging=("MaxResults", "NextToken", 100, 1, 100),
    ),
}
#: OpenSearch spells payment options as enum constants.
_OPENSEARCH_PAYMENT = {"All Upfront": "ALL_UPFRONT", "Partial Upfront": "PARTIAL_UPFRONT", "No Upfront": "NO_UPFRONT"}


def _payment(product: NodeProduct, payment: str) -> str:
    return _OPENSEARCH_PAYMENT[payment] if product.service == "opensearch" else payment


def _offering_view(product: NodeProduct, offering: Offering) -> dict[str, Any]:
    recurring = float(offering.recurring_hourly)
    return {
        product.offering_field: offering.id,
        product.type_field: offering.instance_type,
        "Duration": offering.duration,
        "FixedPrice": float(offering.fixed_price),
        "UsagePrice": 0.0,
        "CurrencyCode": "USD",
        "ProductDescription": PRODUCT_DESCRIPTIONS.get(product.service),
        "MultiAZ": False,
        "ReservedNodeOfferingType": "Regular",
        product.payment_field: _payment(product, offering.payment),
        "RecurringCharges": (
            [{"RecurringChargeAmount": recurring, "RecurringChargeFrequency": "Hourly"}] if recurring else []
        ),
    }


def _paged(call: Call, product: NodeProduct, items: list[dict[str, Any]], result: str) -> dict[str, Any]:
    size, cursor, default, low, high = product.paging
    return page(call, items, size=(size, default, low, high), cursor=cursor, result=result)


def describe_offerings(call: Call) -> dict[str, Any]:
    product = PRODUCTS[call.service]
    wanted_id = call.params.get(product.offering_param)
    wanted_type = call.params.get(product.type_field)
    found = [
        _offering_view(product, o)
        for o in offerings(product.service, call.region)
        if o.offering_class == "standard"
        and (not wanted_id or o.id == wanted_id)
        and (not wanted_type or o.instance_type == wanted_type)
    ]
    if wanted_id and not found:
        code, status = product.offering_not_found
        raise AwsError(code, f"Offering {wanted_id} not found", status)
    return _paged(call, product, found, product.offerings_result)


def describe_reserved_nodes(call: Call) -> dict[str, Any]:
    product = PRODUCTS[call.service]
    wanted = call.params.get(product.id_param)
    nodes = [
        _view(node)
        for (service, _), node in call.account.reserved_nodes.items()
        if service == call.service
        and node["_region"] == call.region
        and (not wanted or node[product.id_field] == wanted)
    ]
    if wanted and not nodes:
        code, status = product.not_found
        raise AwsError(code, f"Reservation {wanted} not found", status)
    return _paged(call, product, nodes, product.result)


def _view(node: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in node.items() if not key.startswith("_")}


def _chosen_id(call: Call, product: NodeProduct) -> str | None:
    chosen: str | None = call.params.get(product.chosen_id_param) if product.chosen_id_param else None
    name = call.params.get("ReservationName") if product.service == "opensearch" else None
    taken = {
        node.get("ReservationName") if name else node[product.id_field]
        for (service, _), node in call.account.reserved_nodes.items()
        if service == product.service
    }
    if (chosen and chosen in taken) or (name and name in taken):
        code, status = product.already_exists
        raise AwsError(code, f"Reservation {chosen or name} already exists", status)
    return chosen


def purchase_offering(call: Call) -> dict[str, Any]:
    product = PRODUCTS[call.service]
    offering = offering_by_id(product.service, call.region).get(call.params.get(product.offering_param) or "")
    if offering is None:
        code, status = product.offering_not_found
        raise AwsError(code, f"Offering {call.params.get(product.offering_param)} not found", status)
    if product.service == "opensearch" and not call.params.get("ReservationName"):
        raise AwsError("ValidationException", "ReservationName is required")
    count = call.integer(product.count_param, 1, low=1, high=1000, code=_invalid(product))
    node = new_node(
        call.emulator,
        call.account,
        product,
        region=call.region,
        offering=offering,
        count=count,
        start=call.emulator.now(),
        state=product.pending_state,
        node_id=_chosen_id(call, product),
        name=call.params.get("ReservationName"),
    )
    if product.purchase_result is None:
        return {product.id_field: node[product.id_field], "ReservationName": node.get("ReservationName")}
    return {product.purchase_result: _view(node)}


def _invalid(product: NodeProduct) -> str:
    return "ValidationException" if product.service == "opensearch" else "InvalidParameterValue"


def new_node(
    emulator: Emulator,
    account: Account,
    product: NodeProduct,
    *,
    region: str,
    offering: Offering,
    count: int,
    start: datetime,
    state: str,
    node_id: str | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    node_id = node_id or str(uuid.uuid4())
    recurring = float(offering.recurring_hourly) * count
    arn_kind = {"rds": "ri", "elasticache": "reserved-instance", "memorydb": "reservednode"}.get(product.service)
    node = {
        product.id_field: node_id,
        product.offering_field: offering.id,
        product.type_field: offering.instance_type,
        product.count_field: count,
        "StartTime": start,
        "Duration": offering.duration,
        "FixedPrice": float(offering.fixed_price) * count,
        "UsagePrice": 0.0,
        "CurrencyCode": "USD",
        "ProductDescription": PRODUCT_DESCRIPTIONS.get(product.service),
        "MultiAZ": False,
        "State": state,
        product.payment_field: _payment(product, offering.payment),
        "RecurringCharges": (
            [{"RecurringChargeAmount": recurring, "RecurringChargeFrequency": "Hourly"}] if recurring else []
        ),
        "ReservedNodeOfferingType": "Regular",
        "LeaseId": str(uuid.uuid4()),
        "ReservationName": name,
        "BillingSubscriptionId": random.randrange(10**9, 10**10),  # noqa: S311 - an id, not a secret
        "_region": region,
        "_active_at": start + emulator.payment_delay,
    }
    if arn_kind is not None:
        separator = "/" if product.service == "memorydb" else ":"
        arn = f"arn:aws:{product.service}:{region}:{account.id}:{arn_kind}{separator}{node_id}"
        node.update({"ReservedDBInstanceArn": arn, "ReservationARN": arn, "ARN": arn})
    with emulator.lock:
        account.reserved_nodes[(product.service, node_id)] = node
        if state in CHANGING_STATES:
            account.changing_nodes.add((product.service, node_id))
    return node


def seed_reserved_node(emulator: Emulator, account: Account, spec: dict[str, Any]) -> dict[str, Any]:
    """A reservation of ``service`` (control API): ``id``, ``region``, ``state``, ``start``,
    ``duration``, ``nodeType``, ``count``, ``offeringType``."""
    product = PRODUCTS[spec["service"]]
    region = spec.get("region") or "us-east-1"
    start = parse_iso(spec["start"]) if spec.get("start") else emulator.now()
    catalogue = offerings(product.service, region)
    kind = spec.get("nodeType") or catalogue[0].instance_type
    offering = Offering(
        "seeded-" + str(uuid.uuid4()),
        product.service,
        region,
        kind,
        int(spec.get("duration") or 31536000),
        spec.get("offeringType") or "All Upfront",
    )
    node = new_node(
        emulator,
        account,
        product,
        region=region,
        offering=offering,
        count=int(spec.get("count") or 1),
        start=start,
        state=spec.get("state") or "active",
        node_id=spec.get("id"),
        name=spec.get("name") or (f"seeded-{start:%Y%m%d%H%M%S}" if product.service == "opensearch" else None),
    )
    node["_active_at"] = start
    return _view(node) | {"service": product.service}
