"""Domain errors that views and APIs turn into messages."""


class FieldErrors(Exception):
    """A record refused by a business rule, as {field: [message, ...]}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors
