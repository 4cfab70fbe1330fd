"""Domain errors that views and APIs turn into messages."""


class FieldErrors(Exception):
    """A record refused by a business rule, as {field: [message, ...]}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        # FAB flashes str(exception) when a pre_add/pre_update hook refuses.
        return " ".join(message for messages in self.errors.values() for message in messages)
