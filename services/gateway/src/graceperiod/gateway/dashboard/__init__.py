"""The server-rendered dashboard: History, purchase detail, Accounts, Settings, sign-in."""
