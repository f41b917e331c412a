"""Local development stack: servers for make run and the test suite. Never imported by services."""
