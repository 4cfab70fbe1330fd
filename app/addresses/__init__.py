"""Neighbourhoods: the address directory and which technology reaches each block."""
