"""Domain errors that views and APIs turn into messages."""


class FieldErrors(Exception):
    """A record refused by a business rule, as {field: [message, ...]}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        # One line, for a refusal flashed rather than shown under a field
        # (a status change, a reversal, a form field the page does not have).
        return " ".join(message for messages in self.errors.values() for message in messages)
