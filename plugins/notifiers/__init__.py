"""Notifiers: how a recipe tells the team how its run ended (console, Slack, webhook)."""
