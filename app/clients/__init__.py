"""Clients and their subscriptions (a client's instances of catalog services)."""
