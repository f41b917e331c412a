"""Adapters to the world outside the revocation domain (AWS)."""
