"""Pure account-pool rules: statuses, transitions and the cooldown policy."""
