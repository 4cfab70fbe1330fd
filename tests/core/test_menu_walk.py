"""Every demo role walks every entry of its menu and reads Bulgarian office software.

The Flask test client, not a browser (tests/browser/test_walk.py drives
Chromium): fast enough to open every menu page, the first record each list
links to and its form, for every role, on SQLite and PostgreSQL alike. A
page fails on what a person at the desk would notice: an English word FAB
or Python leaves behind, a Python object's name, a role in brackets, a date
not written dd.mm.yyyy, a time with AM/PM, an empty list with no line
saying what goes there, or an error.
"""
import json
import re
from urllib.parse import urlsplit

import lxml.html
from sqlalchemy import select

from flask_appbuilder import ModelView
from app.demo.services import DEMO_OPERATORS, seed_everything
from app.clients.models import Client
from app.extensions import db
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, Browser

DEMO_PASSWORD = "demo12345"
USERS = [(ADMIN_USERNAME, ADMIN_PASSWORD)] + [(username, DEMO_PASSWORD) for username, *_rest in DEMO_OPERATORS]

# Words FAB, WTForms, Jinja or Python print in English where a Bulgarian page has its own. Whole words and
# case-sensitive, so a brand ("FREEFTP"), a unit ("Mbps") or a username ("admin") never matches; every one is a
# word a Bulgarian page has no reason to hold.
ENGLISH_LEFTOVERS = [
    # FAB's list, search, show and form pages
    "List", "Search", "Record", "Records", "Record Count", "Add Filter", "Actions", "Add", "Delete", "Edit",
    "Show", "Save", "Back", "Submit", "Refresh", "Choose", "Select Value", "Select a State", "Are you sure",
    "No records found", "Previous", "Next", "Page", "Detail", "Details", "Description", "Name",
    "Equal to", "Not Equal to", "Starts with", "Ends with", "Contains", "Greater than", "Smaller than",
    "Relation", "Filter", "Clear", "Close", "Cancel", "Yes", "No", "Created on", "Changed on", "Created by",
    "Changed by", "Permission", "Permissions", "Role", "Roles", "User", "Users", "User info", "Reset Password",
    "Login", "Logout", "Security", "Settings", "Index", "Attempt", "Week", "Day", "Month", "Year", "Status",
    "Active", "Information", "Error", "Warning", "Success",
    # error pages
    "Not Found", "Forbidden", "Internal Server Error", "Method Not Allowed", "Bad Request",
    # Python and Jinja values printed as they are
    "None", "True", "False", "Undefined", "undefined", "null", "NaN", "Traceback",
]
LEFTOVER = re.compile(r"(?<![\w@./-])(" + "|".join(
    re.escape(word) for word in sorted(ENGLISH_LEFTOVERS, key=len, reverse=True)) + r")(?![\w@/-])")
# A model or object printed by Python, FAB's "__None" empty choice, and FAB's own name of a column nobody
# labelled ("Client Id").
PYTHON_NAMES = re.compile(r"object at 0x[0-9a-f]+|<[a-z_]+(?:\.[A-Za-z_]+)+(?: object)?[ >]|__None|"
                          r"\b(?:[A-Z][a-z]+ )+Id\b")
ISO_OR_US_DATE = re.compile(r"(?<![\d.])(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{2,4})(?![\d/])")
TWELVE_HOUR_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\s?(?:AM|PM|am|pm|a\.m\.|p\.m\.)")
NO_RECORDS = "Няма намерени записи"
# The one-time key of the payment form the walk's day submits: it keeps a resent form from paying twice, and is
# nobody's business on a page.
FORM_KEY = "8f14e45fceea167a5a36dedd4bea2543"
# The line an empty list carries (app/templates/appbuilder/general/model/list.html, `list_note`).
EMPTY_NOTE = re.compile(r'class="[^"]*\blist-note\b')


def page_text(html):
    """What a person reads, and picks from, on the page: its text without scripts and styles, its tooltips and
    hints, and FAB's search filters (their columns, operators and choices sit in a script until the "add filter"
    menu opens)."""
    document = lxml.html.fromstring(html)
    filters = [filter_words(script.text_content()) for script in document.xpath("//script")
               if "new AdminFilters(" in script.text_content()]
    for element in document.xpath("//script|//style"):
        element.drop_tree()
    # Tooltips and a field's hint are read too.
    hints = document.xpath("//@title|//@placeholder|//@data-placeholder")
    return " ".join(document.text_content().split() + filters + [str(hint) for hint in hints])


def filter_words(script):
    """The words FAB's search filters show: column labels, operators' names and the choices of a drop-down."""
    rest = script.split("new AdminFilters(", 1)[1].split(",", 1)[1]  # after the form's CSS selector
    values, decoder = [], json.JSONDecoder()
    while len(values) < 3:
        rest = rest.lstrip(" \n,")
        value, end = decoder.raw_decode(rest)
        values.append(value)
        rest = rest[end:]
    labels, form_fields, search_filters = values
    words = [str(label) for label in labels.values()]
    words += [str(name) for operators in search_filters.values() for name in operators]
    words += [lxml.html.fromstring(field).text_content() for field in form_fields.values() if field.strip()]
    return " ".join(" ".join(words).split())


def problems(html, role_names, menu_page):
    text = page_text(html)
    found = [f"internal key: {FORM_KEY}"] if FORM_KEY in text else []
    found += [f"English: {word}" for word in sorted(set(LEFTOVER.findall(text)))]
    found += [f"Python: {name}" for name in sorted(set(PYTHON_NAMES.findall(text)))]
    found += [f"date: {day}" for day in sorted(set(ISO_OR_US_DATE.findall(text)))]
    found += [f"time: {time}" for time in sorted(set(TWELVE_HOUR_TIME.findall(text)))]
    bracketed = re.findall(r"\[[^\[\]]*\]", text)
    found += [f"role in brackets: {item}" for item in bracketed if any(name in item for name in role_names)]
    if menu_page and NO_RECORDS in text and not EMPTY_NOTE.search(html):
        found.append("an empty list without its line of what goes there")
    return found


def menu_links(html):
    document = lxml.html.fromstring(html)
    links = []
    for link in document.xpath("//ul[contains(@class, 'navbar-nav')]//ul[contains(@class, 'dropdown-menu')]//a[@href]"
                               "|//ul[contains(@class, 'navbar-nav')]/li/a[@href]"):
        href = link.get("href")
        if href.startswith("/") and not href.startswith(("/logout", "/lang/")) and href not in links:
            links.append(href)
    return links


def record_links(html, list_url):
    """The list's first record page, its edit form and the add form, when the list links to them."""
    base = urlsplit(list_url).path.rsplit("/list", 1)[0]
    document = lxml.html.fromstring(html)
    hrefs = [link.get("href") for link in document.xpath("//a[@href]")]
    show = next((href for href in hrefs if re.match(re.escape(base) + r"/show/\d+", href)), None)
    edit = next((href for href in hrefs if re.match(re.escape(base) + r"/edit/\d+", href)), None)
    add = next((href for href in hrefs if urlsplit(href).path == base + "/add"), None)
    return [href for href in (show, edit, add) if href]


def walk(browser, role_names):
    """{url: problems} over the home page and the menu of the logged-in operator, and from each list its first
    record page, edit form and add form."""
    report = {}
    home = browser.get("/")
    opened = {}

    def check(url, menu_page=True):
        if url in opened:
            return opened[url]
        response = opened[url] = browser.get(url, follow_redirects=True)
        wrong = [] if response.status_code == 200 else [f"HTTP {response.status_code}"]
        if response.status_code == 200 and response.mimetype == "text/html":
            wrong += problems(response.text, role_names, menu_page)
        if wrong:
            report[url] = wrong
        return response

    check("/")
    for href in menu_links(home.text):
        response = check(href)
        if response.status_code == 200 and "/list" in href:
            for link in record_links(response.text, href):
                check(link, menu_page=False)
    return report


def listed(report):
    return "\n".join(f"{where}: {'; '.join(wrong)}" for where, wrong in report.items())


def role_names():
    from flask_appbuilder.security.sqla.models import Role

    return [role.name for role in db.session.query(Role)]


def a_day_at_the_office(app):
    """The demo, and what a day adds to it that the demo has not: a run of the billing cycle from the command
    line, a payment taken through the panel's form, an export."""
    with app.app_context():
        seed_everything(DEMO_PASSWORD)
        client = db.session.scalars(select(Client).where(Client.dealer_id.is_(None)).order_by(Client.id)).first()
        client_id = client.id
    result = app.test_cli_runner().invoke(args=["billing", "run-cycle"])
    assert result.exit_code == 0, result.output
    cashier = Browser(app)
    cashier.login("m.ivanova", DEMO_PASSWORD)
    paid = cashier.submit(f"/payments/record/{client_id}", {"amount": "12,00", "currency": "EUR",
                                                            "request_key": FORM_KEY})
    assert paid.status_code == 302, paid.text
    admin = Browser(app)
    admin.login()
    exported = admin.submit("/exports/start", {"source": "list:ClientView", "fmt": "csv", "query": ""},
                            form_url="/clients/list/")
    assert exported.status_code == 302


def test_every_role_walks_its_menu_in_bulgarian(app):
    a_day_at_the_office(app)
    with app.app_context():
        names = role_names()
        assert len(names) >= 6
    report = {}
    for username, password in USERS:
        browser = Browser(app)
        browser.login(username, password)
        for url, wrong in walk(browser, names).items():
            report[f"{username} {url}"] = wrong
    assert not report, listed(report)


def test_every_empty_list_says_what_goes_there(app, admin):
    """Before anything is entered, every list the administrator's menu opens is empty or built in."""
    with app.app_context():
        names = role_names()
    report = walk(admin, names)
    assert not report, listed(report)


def test_every_menu_list_declares_its_line(app):
    """A list in the menu that is empty today may fill tomorrow: each one has its line, not only those the
    walk found empty."""
    missing = []
    menu_views = set()
    for category in app.appbuilder.menu.get_list():
        for item in category.childs or [category]:
            if item.baseview is not None:
                menu_views.add(item.baseview)
    for view in menu_views:
        if isinstance(view, ModelView) and not str(getattr(view, "list_note", "") or "").strip():
            missing.append(type(view).__name__)
    assert missing == []
