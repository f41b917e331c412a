"""Grace Period revocation service."""
