"""The subscribers' own pages at /my/ (issue 30): their account, documents, a freeze, a fault, their contacts."""
