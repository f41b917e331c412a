"""Grace Period message contracts: every message, exchange, queue and routing key the services share."""
