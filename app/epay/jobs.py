"""Background entry points of the ePay.bg module."""
from app.core.transaction import unit_of_work
from app.epay.services import expire_abandoned_requests


def expire_requests():
    """Periodic: requests whose time ran out with no word from ePay.bg are marked expired (one unit of work)."""
    with unit_of_work():
        return expire_abandoned_requests()
