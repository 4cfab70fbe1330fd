"""IP networks the system hands out, and the allocation of their addresses."""
