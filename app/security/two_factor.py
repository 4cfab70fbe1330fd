"""The second lock on a login: a one-time code from the operator's authenticator app (TOTP, RFC 6238).

An operator logs in with a code once they have enrolled, and must enrol
when one of their roles holds the right TWO_FACTOR_LOGIN (granted per role
in the rights matrix). So a stolen password alone opens nothing. In the
panel the code is a second step after the password; the REST API's login
takes it as "totp" beside the password.
"""
import pyotp
from flask import current_app

from app.security.permissions import TWO_FACTOR_LOGIN
from app.security.rights import may

# One step (30 s) either side: a phone's clock is seldom exact.
VALID_WINDOW = 1


def needs_second_factor(operator):
    return bool(operator.totp_secret) or may(operator, TWO_FACTOR_LOGIN)


def new_secret():
    return pyotp.random_base32()


def provisioning_uri(operator, secret):
    """What an authenticator app reads (typed in as the key, or from a QR code of this text)."""
    return pyotp.TOTP(secret).provisioning_uri(name=operator.username, issuer_name=current_app.config["APP_NAME"])


def code_is_valid(secret, code):
    code = (code or "").replace(" ", "")
    return bool(secret) and code.isdigit() and pyotp.TOTP(secret).verify(code, valid_window=VALID_WINDOW)


def enrol(operator, secret, code):
    """Store the operator's key once a code from it proves the app has it. Flushes; True when enrolled."""
    if not code_is_valid(secret, code):
        return False
    operator.totp_secret = secret
    return True
