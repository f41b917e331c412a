"""The Microsoft Entra ID side: tenant discovery, the token endpoint, and checking bearer tokens.

``azure-identity``'s ``ClientSecretCredential`` with ``authority=<this endpoint>`` POSTs the
client-credentials grant to ``/<tenant>/oauth2/v2.0/token`` (MSAL-based credentials first read
``/<tenant>/v2.0/.well-known/openid-configuration``). Tokens are JWT-shaped (``tid``, ``appid``,
``oid``, ``exp``) and remembered, so ARM accepts exactly the tokens this endpoint issued and
refuses them once they expire on the emulator clock. Errors carry Entra ID's body shape
(``error``, ``error_description`` starting with the AADSTS code, ``error_codes``, ...), which
azure-identity turns into ``ClientAuthenticationError``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import timedelta
from typing import Any

from graceperiod.devstack.azure_endpoint.state import ARM_SCOPES, Emulator, IssuedToken
from graceperiod.devstack.azure_endpoint.wire import ArmError, Reply, new_request_id

_SIGNING_KEY = secrets.token_bytes(32)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(claims: dict[str, Any]) -> str:
    header = _b64(json.dumps({"typ": "JWT", "alg": "HS256", "kid": "graceperiod-local"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = hmac.new(_SIGNING_KEY, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64(signature)}"


def entra_error(em: Emulator, status: int, error: str, code: int, description: str) -> Reply:
    trace, correlation = new_request_id(), new_request_id()
    stamp = em.now().strftime("%Y-%m-%d %H:%M:%SZ")
    return Reply(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}\r\nTrace ID: {trace}\r\n"
            f"Correlation ID: {correlation}\r\nTimestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def openid_configuration(tenant_id: str, base: str) -> Reply:
    issuer = f"{base}/{tenant_id}/v2.0"
    return Reply(
        200,
        {
            "issuer": issuer,
            "authorization_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/{tenant_id}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/{tenant_id}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": None,
            "cloud_instance_name": "microsoftonline.com",
        },
    )


def instance_discovery(base: str, host: str) -> Reply:
    """MSAL's ``/common/discovery/instance``: this host is its own (only) alias."""
    return Reply(
        200,
        {
            "tenant_discovery_endpoint": f"{base}/{{tenant}}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        },
    )


def _check_client(em: Emulator, tenant_id: str, form: dict[str, str]) -> Reply | IssuedToken:
    tenant = em.tenants.get(tenant_id)
    if tenant is None:
        return entra_error(
            em,
            400,
            "invalid_request",
            90002,
            f"Tenant '{tenant_id}' not found. Check to make sure you have the correct tenant ID and are signing "
            "into the correct cloud.",
        )
    client_id = form.get("client_id", "")
    principal = tenant.principals.get(client_id)
    if principal is None:
        return entra_error(
            em,
            400,
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory '{tenant_id}'.",
        )
    if form.get("client_secret") not in principal.secrets:
        return entra_error(
            em,
            401,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret "
            f"value, not the client secret ID, for a secret added to app '{client_id}'.",
        )
    if principal.secret_expires_at is not None and em.now() >= principal.secret_expires_at:
        return entra_error(
            em, 401, "invalid_client", 7000222, f"The provided client secret keys for app '{client_id}' are expired."
        )
    expires = em.now() + timedelta(seconds=em.config.token_lifetime_seconds)
    return IssuedToken(tenant_id, client_id, principal.object_id, expires)


def token(em: Emulator, tenant_id: str, form: dict[str, str]) -> Reply:
    """``POST /<tenant>/oauth2/v2.0/token`` with the client-credentials grant."""
    if form.get("grant_type") != "client_credentials":
        return entra_error(em, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
    scopes = set((form.get("scope") or "").split())
    if not scopes or not scopes <= ARM_SCOPES:
        return entra_error(
            em,
            400,
            "invalid_scope",
            1002012,
            f"The provided value for scope {form.get('scope')} is not valid. This emulator issues tokens for "
            "Azure Resource Manager only.",
        )
    with em.lock:
        checked = _check_client(em, tenant_id, form)
        if isinstance(checked, Reply):
            return checked
        now = em.now()
        access_token = _jwt(
            {
                "aud": "https://management.azure.com/",
                "iss": f"https://sts.windows.net/{tenant_id}/",
                "iat": int(now.timestamp()),
                "nbf": int(now.timestamp()),
                "exp": int(checked.expires_at.timestamp()),
                "appid": checked.client_id,
                "oid": checked.object_id,
                "sub": checked.object_id,
                "tid": tenant_id,
                "idtyp": "app",
                "ver": "1.0",
                "jti": new_request_id(),
            }
        )
        em.tokens[access_token] = checked
    lifetime = em.config.token_lifetime_seconds
    return Reply(
        200, {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access_token}
    )


def _challenge(description: str) -> dict[str, str]:
    return {
        "WWW-Authenticate": 'Bearer authorization_uri="https://login.microsoftonline.com/common", '
        f'error="invalid_token", error_description="{description}"'
    }


def authenticate(em: Emulator, authorization: str | None) -> IssuedToken:
    """The caller behind an ARM request's bearer token, or the 401 ARM answers."""
    if not authorization:
        raise ArmError(
            401,
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
            _challenge("The access token is missing."),
        )
    scheme, _, value = authorization.partition(" ")
    issued = em.tokens.get(value.strip()) if scheme.lower() == "bearer" else None
    if issued is None:
        raise ArmError(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
            _challenge("The access token is invalid."),
        )
    now = em.now()
    if now >= issued.expires_at:
        raise ArmError(
            401,
            "ExpiredAuthenticationToken",
            f"The access token expiry UTC time '{issued.expires_at:%m/%d/%Y %I:%M:%S %p}' is earlier than current "
            f"UTC time '{now:%m/%d/%Y %I:%M:%S %p}'.",
            _challenge("The access token has expired."),
        )
    return issued
