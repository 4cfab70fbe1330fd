"""Domain errors that views and APIs turn into messages."""
from werkzeug.exceptions import NotFound


class FieldErrors(Exception):
    """A record refused by a business rule, as {field: [message, ...]}."""

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        # One line, for a refusal flashed rather than shown under a field
        # (a status change, a reversal, a form field the page does not have).
        return " ".join(message for messages in self.errors.values() for message in messages)


def _no_such_record(error):
    # SQLite refuses to compare an id column with a number beyond 64 bits
    # (a forged /…/<id> or ?client=…); no record has such an id.
    return NotFound()


def init_app(app):
    app.register_error_handler(OverflowError, _no_such_record)
