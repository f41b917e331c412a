"""``make run`` starts the local Azure endpoint beside the AWS one and points the revocation service
at it (ARM, Entra ID authority and the CA to trust), with a key to seal client secrets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from graceperiod.devstack.local import stack


@pytest.fixture(autouse=True)
def _no_caller_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("REVOCATION_AZURE_ARM_URL", "REVOCATION_SECRET_KEYS", "GP_AZURE_PORT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(stack, "AZURE_SECRET_KEY_FILE", tmp_path / "keys" / "azure-secret.key")


def test_the_plan_starts_the_azure_endpoint_and_the_revocation_service_trusts_its_ca() -> None:
    planned = stack.plan()
    assert planned.azure is not None
    assert planned.azure in planned.servers
    assert planned.ports[4443] == "Azure endpoint, GP_AZURE_PORT"
    endpoints = stack._endpoints(planned)
    env = stack.service_environment(endpoints)
    assert env["REVOCATION_AZURE_ARM_URL"] == env["REVOCATION_AZURE_AUTHORITY"] == "https://127.0.0.1:4443"
    assert env["REVOCATION_AZURE_CA_BUNDLE"] == str(planned.azure.ca_bundle)


def test_an_azure_endpoint_named_by_the_caller_replaces_the_local_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOCATION_AZURE_ARM_URL", "https://management.azure.com")
    planned = stack.plan()
    assert planned.azure is None
    assert "REVOCATION_AZURE_ARM_URL" not in stack.service_environment(stack._endpoints(planned))


def test_only_the_revocation_service_gets_the_secret_key_made_once_and_owner_only() -> None:
    planned = stack.plan()
    first = stack.own_environment(planned, "revocation")
    (sealing_key,) = json.loads(first["REVOCATION_SECRET_KEYS"])
    Fernet(sealing_key.encode())  # a usable key
    assert stack.AZURE_SECRET_KEY_FILE.stat().st_mode & 0o077 == 0
    assert stack.own_environment(planned, "revocation") == first
    assert "REVOCATION_SECRET_KEYS" not in stack.own_environment(planned, "notifier")
    assert "REVOCATION_SECRET_KEYS" not in stack.gateway_signing_environment()
