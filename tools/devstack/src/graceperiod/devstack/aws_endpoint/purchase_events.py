"""Purchase events, as CloudTrail and EventBridge deliver them: every successful purchase in an
account whose onboarding bundle forwards them (``purchase_events_queue``, the ARN of Grace
Period's queue) puts an "AWS API Call via CloudTrail" event into that SQS queue (moto's, in
the same process), shaped as EventBridge delivers it to an SQS target.

In AWS the event travels: the API call → CloudTrail → EventBridge's default bus in the
Region of the call (us-east-1 for Savings Plans) → the bundle's rule → Grace Period's event
bus → its rule → the queue. The hops between the call and the queue are not emulated; what
arrives is what would: the event, with ``account`` and ``source`` stamped by AWS (an
account cannot forge either), at least once. Failed calls emit nothing here (the bundle's
rule matches only calls without an ``errorCode``).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from moto.backends import get_backend

from graceperiod.devstack.aws_endpoint.state import Account, Emulator
from graceperiod.devstack.aws_endpoint.wire import iso

log = logging.getLogger("graceperiod.devstack.aws_endpoint")

#: (botocore service, operation) of every purchase → the event's ``source`` and CloudTrail's
#: ``eventSource`` (OpenSearch still reports as ``es``).
PURCHASES: dict[tuple[str, str], tuple[str, str]] = {
    ("savingsplans", "CreateSavingsPlan"): ("aws.savingsplans", "savingsplans.amazonaws.com"),
    ("ec2", "PurchaseReservedInstancesOffering"): ("aws.ec2", "ec2.amazonaws.com"),
    ("rds", "PurchaseReservedDBInstancesOffering"): ("aws.rds", "rds.amazonaws.com"),
    ("elasticache", "PurchaseReservedCacheNodesOffering"): ("aws.elasticache", "elasticache.amazonaws.com"),
    ("redshift", "PurchaseReservedNodeOffering"): ("aws.redshift", "redshift.amazonaws.com"),
    ("memorydb", "PurchaseReservedNodesOffering"): ("aws.memorydb", "memorydb.amazonaws.com"),
    ("opensearch", "PurchaseReservedInstanceOffering"): ("aws.es", "es.amazonaws.com"),
}


def cloudtrail_event(
    emulator: Emulator,
    account: Account,
    call: tuple[str, str],
    *,
    region: str,
    principal: str,
    params: dict[str, Any],
    response: dict[str, Any],
    request_id: str,
) -> dict[str, Any]:
    source, event_source = PURCHASES[call]
    now = iso(emulator.now())
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "AWS API Call via CloudTrail",
        "source": source,
        "account": account.id,
        "time": now,
        "region": region,
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AssumedRole" if ":assumed-role/" in principal else "IAMUser", "arn": principal},
            "eventTime": now,
            "eventSource": event_source,
            "eventName": call[1],
            "awsRegion": region,
            "requestParameters": {k: v for k, v in params.items() if k not in ("Action", "Version")},
            "responseElements": json.loads(json.dumps(response, default=str)),
            "requestID": request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": account.id,
        },
    }


def forward(emulator: Emulator, account: Account, event: dict[str, Any]) -> None:
    """Deliver ``event`` to the account's configured queue, if any (never fails the purchase)."""
    target = account.purchase_events_queue
    if not target:
        return
    _, _, _, region, owner, name = target.split(":", 5)
    try:
        get_backend("sqs")[owner][region].send_message(name, json.dumps(event))
    except Exception:  # the purchase happened; a lost event is what the polling is there for
        log.exception("purchase event for account %s not delivered to %s", account.id, target)
