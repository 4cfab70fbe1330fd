"""RADIUS: the NAS list, the RADIUS server (authentication, accounting) and the subscribers' sessions."""
