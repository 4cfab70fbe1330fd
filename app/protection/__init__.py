"""Protection: the panel answers only to allowed addresses and networks."""
