"""Grace Period gateway service."""
