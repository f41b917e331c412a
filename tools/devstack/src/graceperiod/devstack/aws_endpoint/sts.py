"""STS (query): AssumeRole that enforces the registered role and its ExternalId, and
GetCallerIdentity. Keys handed out here carry the role's account to every other call."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

from graceperiod.devstack.aws_endpoint.calls import AwsError, Call
from graceperiod.devstack.aws_endpoint.state import AssumedSession, random_key

_ROLE_ARN = re.compile(r"^arn:(aws[a-z-]*):iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_SESSION_NAME = re.compile(r"^[\w+=,.@-]{2,64}$")


def assume_role(call: Call) -> dict[str, Any]:
    params = call.params
    role_arn, external_id = params.get("RoleArn", ""), params.get("ExternalId")
    session_name = params.get("RoleSessionName", "")
    if not _SESSION_NAME.match(session_name):
        raise AwsError("ValidationError", "RoleSessionName must match [\\w+=,.@-]{2,64}")
    duration = int(params.get("DurationSeconds") or 3600)
    if not 900 <= duration <= 43200:
        raise AwsError("ValidationError", "DurationSeconds must be between 900 and 43200")
    match = _ROLE_ARN.match(role_arn)
    denied = AwsError(
        "AccessDenied",
        f"User: {call.principal} is not authorized to perform: sts:AssumeRole on resource: {role_arn}",
        403,
    )
    if not match:
        raise AwsError("ValidationError", f"{role_arn} is not a valid role ARN")
    target = call.emulator.account(match.group(2))
    role_name = match.group(3)
    if role_name not in target.roles or "sts:AssumeRole" in target.denied:
        raise denied
    required = target.roles[role_name]
    if required is not None and external_id != required:
        raise denied
    now = call.emulator.now()
    session = AssumedSession(
        account=target.id,
        role_arn=role_arn,
        session_name=session_name,
        secret=secrets.token_urlsafe(30),
        token=secrets.token_urlsafe(60),
        expires=now + timedelta(seconds=duration),
    )
    key = random_key("ASIA")
    with call.emulator.lock:
        call.emulator.sessions[key] = session
    return {
        "Credentials": {
            "AccessKeyId": key,
            "SecretAccessKey": session.secret,
            "SessionToken": session.token,
            "Expiration": session.expires,
        },
        "AssumedRoleUser": {
            "AssumedRoleId": f"AROA{uuid.uuid4().hex[:17].upper()}:{session_name}",
            "Arn": session.principal,
        },
    }


def get_caller_identity(call: Call) -> dict[str, Any]:
    return {"UserId": call.principal.rsplit("/", 1)[-1], "Account": call.account.id, "Arn": call.principal}
