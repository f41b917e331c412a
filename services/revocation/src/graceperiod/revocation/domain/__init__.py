"""Pure revocation rules: no I/O, every instant passed in."""
