"""Pure notification rules: who gets what, and what it says."""
