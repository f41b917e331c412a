"""``make chaos``: fault-injection scenarios against a local stack of real processes.

Each scenario deploys the workers (separate OS processes) against private RabbitMQ, FerretDB,
SMTP sink and AWS endpoint servers, publishes load as an upstream system would (retrying
unconfirmed publishes with the same ``message_id``), injects a fault, and then checks the
effects from outside: every expected effect seen exactly once, nothing dead-lettered that
should not be, every queue drained. See ``docs/reliability.md``.
"""
