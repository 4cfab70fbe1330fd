"""Usable on a day, frozen on a day, the walled garden (app.billing.usable): the Python rule, its SQL twin and every
place that asks them (the RADIUS login cache, the FTP server, the disconnect sweep, the billing cycle, the mail
server's view) give the same answers."""
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy import select, true

from app.billing import usable
from app.billing.models import SubscriptionFreeze
from app.clients.models import ACTIVE, PENDING, SUSPENDED, TERMINATED, Subscription
from app.core.formatting import local_today
from app.extensions import db
from app.freeftp.access import SUBSCRIPTION, Login, still_allowed
from app.radius import auth
from tests.factories import make_client, make_service, make_subscription

# Freezes as (first, last) day offsets from the day asked about; `edge`: the answer turns on that very day, so
# the mail view (whose "today" is the database's clock) is compared only on the others.
FREEZES = {
    "none": ([], False),
    "around": ([(-2, 2)], False),
    "only that day": ([(0, 0)], True),
    "ended the day before": ([(-3, -1)], True),
    "starts the day after": ([(1, 4)], True),
    "long ago and far ahead": ([(-9, -5), (5, 9)], False),
}
STATUSES = (PENDING, ACTIVE, SUSPENDED, TERMINATED)


def _cases(app, username_type):
    """{subscription id: (status, freeze name)} for every status and freeze, of a service of `username_type`."""
    cases = {}
    with app.app_context():
        day = local_today()
        client = make_client(None, f"Клиент {username_type}")
        service = make_service(f"Услуга {username_type}", username_type=username_type)
        for status in STATUSES:
            for name, (freezes, _edge) in FREEZES.items():
                subscription = make_subscription(client, service, status=status,
                                                 username=f"{username_type}-{status}-{len(cases)}@mail.bg",
                                                 password="тайна")
                for first, last in freezes:
                    db.session.add(SubscriptionFreeze(
                        subscription=subscription, client_id=client.id, starts_on=day + timedelta(days=first),
                        ends_on=day + timedelta(days=last), last_day=day + timedelta(days=last), reason="Ваканция"))
                cases[subscription.id] = (status, name)
        db.session.commit()
    return cases


def _expected(status, name):
    frozen = name in ("around", "only that day")
    return {"frozen": frozen, "usable": status == ACTIVE and not frozen,
            "walled garden": status == SUSPENDED and not frozen}


def _ids(condition, ids):
    return set(db.session.scalars(select(Subscription.id).where(Subscription.id.in_(ids), condition)))


def test_the_python_rule_and_its_sql_twin_agree(app):
    cases = _cases(app, "radius")
    with app.app_context():
        day = local_today()
        ids = list(cases)
        frozen_sql = _ids(usable.frozen_condition(day), ids)
        usable_sql = _ids(usable.usable_condition(day), ids)
        walled_sql = _ids(usable.walled_garden_condition(day), ids)
        online_with_garden = _ids(usable.may_be_online_condition(day, true()), ids)
        online_without = _ids(usable.may_be_online_condition(day, sa.false()), ids)
        frozen_chunk = usable.frozen_ids(ids, day)
        logins = {data.subscription_id: data for data in auth.load(subscription_ids=ids).values()}
        for subscription_id, (status, name) in cases.items():
            expected = _expected(status, name)
            subscription = db.session.get(Subscription, subscription_id)
            freezes = [(first, last) for first, last in db.session.execute(
                select(SubscriptionFreeze.starts_on, SubscriptionFreeze.last_day)
                .where(SubscriptionFreeze.subscription_id == subscription_id))]
            answers = {
                "frozen": {usable.frozen_on(freezes, day), usable.is_frozen(subscription_id, day),
                           subscription_id in frozen_sql, subscription_id in frozen_chunk,
                           logins[subscription_id].is_frozen(day)},
                "usable": {usable.usable(status, usable.frozen_on(freezes, day)), usable.is_usable(subscription, day),
                           subscription_id in usable_sql, subscription_id in online_without,
                           logins[subscription_id].may_log_in(day),
                           still_allowed(Login(SUBSCRIPTION, subscription_id, subscription.username, "/tmp", ""))},
                "walled garden": {usable.in_walled_garden(status, usable.frozen_on(freezes, day)),
                                  subscription_id in walled_sql,
                                  subscription_id in online_with_garden - online_without,
                                  logins[subscription_id].may_enter_walled_garden(day)},
            }
            assert answers == {rule: {value} for rule, value in expected.items()}, (status, name)


def test_the_mail_servers_view_says_the_same(app):
    cases = _cases(app, "email")
    with app.app_context():
        active = {username.lower(): bool(value) for username, value in db.session.execute(
            sa.text("SELECT username, active FROM mail_account"))}
        usable_now = _ids(usable.usable_condition(local_today()), list(cases))
        for subscription_id, (status, name) in cases.items():
            username = db.session.get(Subscription, subscription_id).username.lower()
            if status == TERMINATED:
                assert username not in active
            elif not FREEZES[name][1]:
                assert active[username] is (subscription_id in usable_now) is _expected(status, name)["usable"], \
                    (status, name)
