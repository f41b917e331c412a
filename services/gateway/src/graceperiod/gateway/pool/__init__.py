"""The sandbox account pool (cooldown service): the JSON API, the Accounts page and the calls to the
cooldown service."""
