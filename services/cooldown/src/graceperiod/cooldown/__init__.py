"""Grace Period cooldown service."""
