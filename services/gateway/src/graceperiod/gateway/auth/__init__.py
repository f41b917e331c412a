"""Who is asking: Bearer JWTs for API clients, a cookie session for the dashboard, guards."""
