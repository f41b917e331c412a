"""What the tests import: where the real servers come from and per-test isolation (``fixtures``),
the gateway's in-memory service fakes, tokens, sample payloads, upstream publishers, the browser."""
