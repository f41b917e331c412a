"""Grace Period notifier service."""
