"""Service catalog: service groups and the services an operator sells."""
