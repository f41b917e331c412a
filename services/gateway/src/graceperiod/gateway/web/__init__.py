"""Web plumbing shared by every feature: request ids, security headers, problem details, parameters, OpenAPI."""
