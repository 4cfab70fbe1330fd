"""What the ePay.bg module plugs into the application, panel or worker alike (app.create_app calls init).

It needs no receiver: a payment ePay.bg's notification records goes through billing's record_payment, and
what follows any payment (the invoice of a company, reactivation and the RADIUS Disconnect) follows it by
billing's own events. Its one periodic job marks the requests ePay.bg never told us about as expired.
"""
from app.core.queue import every
from app.epay import jobs


def init(app):
    every(app, 60, jobs.expire_requests, "epay-expire-requests")
