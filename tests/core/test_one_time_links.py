"""One-time links: used once, replaced by a newer one, expired — and refused in words."""
import threading
from datetime import timedelta

import pytest

from app.core import one_time_links
from app.core.one_time_links import EXPIRED, REVOKED, USED, WRONG, LinkRefused
from app.core.transaction import unit_of_work
from app.extensions import db

DAY = timedelta(days=1)


def _refused(purpose, token):
    with pytest.raises(LinkRefused) as refused:
        one_time_links.redeem(purpose, token)
    return refused.value.reason


def test_a_link_works_once_and_a_newer_one_replaces_it(app):
    with app.test_request_context(headers={"Accept-Language": "bg"}), unit_of_work():
        first = one_time_links.issue("enrol", "operator:7", DAY, payload={"step": 1})
        second = one_time_links.issue("enrol", "operator:7", DAY)
        other = one_time_links.issue("enrol", "operator:8", DAY)
        assert _refused("enrol", first) == REVOKED
        assert _refused("reset", second) == WRONG  # another purpose's token is no token
        assert one_time_links.check("enrol", second).subject == "operator:7"
        assert one_time_links.redeem("enrol", second).used_at is not None
        assert _refused("enrol", second) == USED
        assert one_time_links.redeem("enrol", other).subject == "operator:8"  # another subject's link is left
        for token in ("", "x" * 500, None, 12):
            assert _refused("enrol", token) == WRONG
        assert "вече е използвана" in LinkRefused(USED).message


def test_an_expired_link_and_a_revoked_one_are_refused(app):
    with app.app_context(), unit_of_work():
        expired = one_time_links.issue("enrol", "operator:7", -DAY)
        assert _refused("enrol", expired) == EXPIRED
        live = one_time_links.issue("enrol", "operator:9", DAY)
        one_time_links.revoke("enrol", "operator:9")
        assert _refused("enrol", live) == REVOKED


def test_two_requests_redeeming_at_once_use_the_link_once(app):
    with app.app_context(), unit_of_work():
        token = one_time_links.issue("enrol", "operator:7", DAY)
    barrier = threading.Barrier(8)
    outcomes = []

    def redeem():
        with app.app_context():
            barrier.wait()
            try:
                with unit_of_work():
                    one_time_links.redeem("enrol", token)
                outcomes.append("redeemed")
            except LinkRefused as refused:
                outcomes.append(refused.reason)
            except Exception as error:  # SQLite's "database is locked" is a refusal too, never a second use
                outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=redeem) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("redeemed") == 1, outcomes
