"""Dealers (resellers): companies that serve their own clients with their own operators."""
