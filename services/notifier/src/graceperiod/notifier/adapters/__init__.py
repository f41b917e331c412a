"""Adapters: mail transports and the broker."""
