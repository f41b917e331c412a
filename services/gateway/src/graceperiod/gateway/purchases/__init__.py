"""Purchases: list, read, revoke, file and resolve the support case (JSON API, dashboard pages and the
calls to the revocation service)."""
