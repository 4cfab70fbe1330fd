"""An export sees and filters exactly what its operator's list page does: a filter on a column the operator may
not see (a masked ЕГН, a RADIUS password, an operator's password hash, the LOG's raw changes) is ignored, so the
row count answers nothing."""
import csv
import io

import pytest

from app.security.permissions import MANAGER
from tests.conftest import Browser, visible_text
from tests.factories import make_client, make_operator, make_service, make_subscription
from tests.reports.test_reports import export


@pytest.fixture
def office(app):
    with app.app_context():
        service = make_service("Интернет 20", monthly_fee="20.00")
        client = make_client(None, "Иван Тайнов", egn="7501020018")
        make_client(None, "Мария Друга", egn="8001010008")
        make_subscription(client, service, username="ivan-pppoe", password="sekret-123")
        make_operator(None, "manager", MANAGER, username="manager-no-pd")
    manager = Browser(app)
    manager.login("manager-no-pd", "operator-pass-123")
    return manager


def rows(browser, source, query=""):
    return list(csv.reader(io.StringIO(export(browser, source, "csv", query).decode("utf-8-sig")), delimiter=";"))


@pytest.mark.parametrize("source, column, right_guess, wrong_guess", [
    ("list:ClientView", "egn", "750", "999"),
    ("list:SubscriptionView", "password", "sekret", "zzz"),
    ("list:OperatorView", "password", "scrypt:", "zzz"),
    ("list:LogView", "changes", "7501", "zzz"),
])
def test_a_filter_on_a_column_the_manager_may_not_see_answers_nothing(app, office, source, column, right_guess,
                                                                      wrong_guess):
    # Each export adds its own LOG entry, so the LOG's list grows by one from one export to the next.
    grows = 1 if source == "list:LogView" else 0
    # Every FAB filter of the column, by index: starts with, ends with, contains, equal…
    for index in range(4):
        for guess in (right_guess, wrong_guess):
            everything = rows(office, source)
            filtered = rows(office, source, f"_flt_{index}_{column}={guess}")
            assert len(filtered) == len(everything) + grows, (index, guess)
    # Sorting by it tells nothing either: the order is the list's own.
    name = source.split(":")[1]
    everything = rows(office, source)
    ordered = rows(office, source, f"_oc_{name}={column}&_od_{name}=desc")
    assert ordered[1 + grows:] == everything[1:]


def test_the_list_page_ignores_the_same_filters_and_honours_the_offered_ones(app, office):
    hidden = visible_text(office.get("/clients/list/?_flt_0_egn=999").text)
    assert "Иван Тайнов" in hidden and "Мария Друга" in hidden
    offered = visible_text(office.get("/clients/list/?_flt_0_name=Мария").text)
    assert "Мария Друга" in offered and "Иван Тайнов" not in offered
    # A filter index FAB does not have is ignored, not a server error.
    assert office.get("/clients/list/?_flt_9_name=Мария").status_code == 200


def test_the_search_box_finds_no_one_by_egn_for_an_operator_who_may_not_see_it(app, office, admin):
    """A guessed ЕГН in the search box answered whose it is (one row or none), which the card masks."""
    assert "Иван Тайнов" not in visible_text(office.get("/clients/list/?q=7501020018").text)
    assert "Иван Тайнов" in visible_text(admin.get("/clients/list/?q=7501020018", follow_redirects=True).text)
    assert "Иван Тайнов" in visible_text(office.get("/clients/list/?q=Тайнов", follow_redirects=True).text)


def test_a_filter_on_a_column_the_list_offers_still_applies(app, office):
    assert len(rows(office, "list:ClientView")) == 3
    found = rows(office, "list:ClientView", "_flt_0_name=Иван")
    assert len(found) == 2 and "Иван Тайнов" in found[1]
