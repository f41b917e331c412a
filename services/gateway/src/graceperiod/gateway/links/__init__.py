"""The one-click email links: token verification, consumption, and their pages."""
