"""deploy/iam: Grace Period's own policies pass parliament (with its community auditors),
with only the findings listed here accepted, each for a stated reason."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from graceperiod.revocation.adapters.iam import VENDOR_IAM_ACTIONS
from tests.deploy.conftest import DEPLOY

IAM = DEPLOY / "iam"
#: Placeholders in the policy files and example values to lint them with.
PLACEHOLDERS = {
    "REGION": "us-east-1",
    "ACCOUNT_ID": "111122223333",
    "MANAGEMENT_ACCOUNT": "444455556666",
    "MAIL_DOMAIN": "example.com",
    "MAIL_FROM_ADDRESS": "graceperiod@example.com",
    "QUEUE_NAME": "graceperiod-purchase-events",
}
#: (file, issue, detail) parliament may report, and why. Anything else fails.
ACCEPTED = {
    # sts:AssumeRole returns credentials: that is the policy's purpose. It is limited to roles
    # named GracePeriod* and to calls that carry an ExternalId (test below).
    ("assume-customer-roles.json", "CREDENTIALS_EXPOSURE", "['sts:assumerole']"),
    # The same for the cooldown service: one role name prefix in one (the management) account.
    ("assume-cost-role.json", "CREDENTIALS_EXPOSURE", "['sts:assumerole']"),
}


def parliament(path: Path) -> list[dict[str, Any]]:
    """Findings of the parliament CLI (run as a program: parliament 1.6 imports the
    deprecated pkg_resources, and its --config ignore_locations does not work for plain
    config files, so accepted findings are filtered here instead)."""
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "parliament"),
            "--files",
            str(path),
            "--json",
            "--include-community-auditors",
        ],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=120,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def rendered(name: str, directory: Path) -> Path:
    text = (IAM / name).read_text()
    for token, value in PLACEHOLDERS.items():
        text = text.replace(token, value)
    assert not re.search(r"\b[A-Z]{2,}_[A-Z_]+\b", text), "an unknown placeholder"
    path = directory / name
    path.write_text(text)
    return path


def _detail(finding: dict[str, Any]) -> str:
    location = finding.get("location", {})
    return str(location.get("actions", finding.get("detail", "")))


@pytest.mark.parametrize("name", sorted(p.name for p in IAM.glob("*.json")))
def test_policy_passes_parliament(name: str, tmp_path: Path) -> None:
    findings = parliament(rendered(name, tmp_path))
    unexpected = [f for f in findings if (name, f["issue"], _detail(f)) not in ACCEPTED]
    assert not unexpected, json.dumps(unexpected, indent=2)


def test_parliament_reports_a_broad_policy(tmp_path: Path) -> None:
    broad = tmp_path / "broad.json"
    broad.write_text(
        json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:*", "Resource": "*"}]})
    )
    assert {f["issue"] for f in parliament(broad)} >= {"RESOURCE_STAR"}


def test_assume_role_needs_an_external_id_and_a_grace_period_role_name() -> None:
    policy = json.loads((IAM / "assume-customer-roles.json").read_text())
    [statement] = policy["Statement"]
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Resource"] == "arn:aws:iam::*:role/GracePeriod*"
    assert statement["Condition"] == {"Null": {"sts:ExternalId": "false"}}


def test_ses_sending_is_limited_to_one_identity_and_sender() -> None:
    policy = json.loads((IAM / "ses-send.json").read_text())
    [statement] = policy["Statement"]
    assert sorted(statement["Action"]) == ["ses:SendEmail", "ses:SendRawEmail"]
    assert statement["Resource"] == "arn:aws:ses:REGION:ACCOUNT_ID:identity/MAIL_DOMAIN"
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "MAIL_FROM_ADDRESS"}}


def test_the_revocation_service_reads_its_purchase_event_queue_and_nothing_else() -> None:
    policy = json.loads((IAM / "read-purchase-events.json").read_text())
    [statement] = policy["Statement"]
    assert sorted(statement["Action"]) == sorted(a for a in VENDOR_IAM_ACTIONS if a.startswith("sqs:"))
    assert statement["Resource"] == "arn:aws:sqs:REGION:ACCOUNT_ID:QUEUE_NAME"
