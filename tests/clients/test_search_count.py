"""A common name's search (issue 33): its count stops past SEARCH_COUNT_CAP and the list says "над …"; the
page still shows the first matches in the list's order, a rare search its exact count, and the keys found
through other tables (username, IP address, block) beside the client's own columns.

Runs on the suite's database (SQLite, or PostgreSQL with TEST_DATABASE_URL).
"""
import re

import pytest

from app.clients import services
from app.clients.services import MoreThan
from app.extensions import db
from tests.conftest import Browser, Statements, visible_text
from tests.factories import make_client, make_dealer, make_operator, make_service, make_subscription

CAP = 5


@pytest.fixture
def capped(monkeypatch):
    monkeypatch.setattr(services, "SEARCH_COUNT_CAP", CAP)


def listed_names(page):
    return re.findall(r'<a class="client-link" href="[^"]+">([^<]+)</a>', page)


def common_and_rare(app):
    with app.app_context():
        # Eight Ивановы, their names out of order; two others.
        for first in ("Цветан", "Асен", "Мария", "Борис", "Янко", "Георги", "Елена", "Димитър"):
            make_client(None, f"{first} Петров Иванов")
        make_client(None, "Иван Стоянов Петков")
        make_client(None, "Стоян Колев Иванчев")
        db.session.commit()


def test_a_common_names_count_stops_at_the_cap_and_says_so(app, admin, capped):
    common_and_rare(app)
    page = admin.get("/clients/list/", query_string={"q": "петров иванов"}).text
    assert "Брой записи: над 5" in visible_text(page).replace("\u00a0", " ")
    # The first page still lists the matches from the first in name order.
    names = listed_names(page)
    assert names == sorted(names) and names[0] == "Асен Петров Иванов" and len(names) == 8


def test_a_rare_search_keeps_its_exact_count_and_order(app, admin, capped):
    common_and_rare(app)
    page = admin.get("/clients/list/", query_string={"q": "иван"}).text  # 8 Ивановы, Иван, Иванчев: over the cap
    assert "над 5" in visible_text(page).replace("\u00a0", " ")
    page = admin.get("/clients/list/", query_string={"q": "ст"}).text  # Стоянов, Стоян: two
    assert listed_names(page) == ["Иван Стоянов Петков", "Стоян Колев Иванчев"]
    assert re.search(r"Брой записи:\s*2\b", visible_text(page))
    # The list without a search counts every client.
    assert re.search(r"Брой записи:\s*10\b", visible_text(admin.get("/clients/list/").text))


def test_a_page_past_the_first_of_a_common_search(app, admin, capped):
    common_and_rare(app)
    page = admin.get("/clients/list/", query_string={"q": "иванов", "psize_ClientView": 3, "page_ClientView": 1})
    assert listed_names(page.text) == ["Димитър Петров Иванов", "Елена Петров Иванов", "Мария Петров Иванов"]


def test_keys_of_other_tables_are_found_beside_the_name(app, admin, capped):
    with app.app_context():
        ivan = make_client(None, "Иван Петров")
        other = make_client(None, "Друг Човек")
        make_subscription(other, make_service("Интернет"), username="ivan")
        db.session.commit()
        ivan_id, other_id = ivan.id, other.id
    # "ivan" is nobody's name in Latin letters, but a username; "Иван" is a name.
    response = admin.get("/clients/list/", query_string={"q": "ivan"})
    assert response.status_code == 302 and response.location.endswith(f"/clients/show/{other_id}")
    response = admin.get("/clients/list/", query_string={"q": "Иван"})
    assert response.status_code == 302 and response.location.endswith(f"/clients/show/{ivan_id}")


def test_a_dealers_operator_counts_only_the_dealers_matches(app, capped):
    common_and_rare(app)
    with app.app_context():
        dealer = make_dealer("Алфа")
        make_client(dealer, "Огнян Петров Иванов")
        make_client(dealer, "Пенка Петрова Иванова")
        make_operator(dealer, "каса", "Касиер", username="alpha-cashier")
    cashier = Browser(app)
    cashier.login("alpha-cashier", "operator-pass-123")
    page = cashier.get("/clients/list/", query_string={"q": "петров иванов"}).text
    assert listed_names(page) == ["Огнян Петров Иванов", "Пенка Петрова Иванова"]
    assert re.search(r"Брой записи:\s*2\b", visible_text(page))


def test_the_capped_count_is_one_statement_and_reads_no_further(app, admin, capped):
    common_and_rare(app)
    with Statements(app) as sent:
        admin.get("/clients/list/", query_string={"q": "иванов"})
    counts = [s for s in sent if s.startswith("SELECT count(") and "FROM client" in s]
    assert len(counts) == 1 and "LIMIT" in counts[0], counts


def test_more_than_reads_as_a_number_for_the_pages():
    count = MoreThan(1000)
    assert count == 1001 and count > 1000 and count.cap == 1000
