"""Adapters to the world outside the cooldown domain."""
