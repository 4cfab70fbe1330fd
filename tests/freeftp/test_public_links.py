"""Links on the public pages and in their e-mails name the configured host, whatever Host a request sends."""
import re

from tests.conftest import CSRF_RE, Browser
from tests.freeftp.conftest import configure, mails
from tests.freeftp.test_index_search import _index

FORGED = {"Host": "attacker.example:8080"}


def _submit_forged(browser, url, data):
    """Posts the form as a browser sent to the forged host would (its page, cookie and token on that host)."""
    token = CSRF_RE.search(browser.get(url, headers=FORGED).text).group(1)
    return browser.client.post(url, headers=FORGED, data={**data, "csrf_token": token})


def test_a_forged_host_header_changes_no_link_in_the_pages_or_the_mails(app, settings, outbox, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://ftp.example.bg/")
    root = settings[0]
    configure(app, ftp_root=str(root), confirm_email=True)
    (root / "Музика").mkdir()
    (root / "Музика" / "песен.mp3").write_bytes(b"x")
    _index(app, root)
    browser = Browser(app)

    page = browser.get("/freeftp/search?q=песен", headers=FORGED)
    assert page.status_code == 200
    assert "ftp://ftp.example.bg:2121/" in page.text and "attacker" not in page.text

    registered = _submit_forged(browser, "/freeftp/register", {
        "username": "ivan.petrov", "password": "тайна-парола-1", "email": "ivan@example.bg"})
    assert registered.status_code == 200
    assert _submit_forged(browser, "/freeftp/reset", {"email": "ivan@example.bg"}).status_code == 200
    sent = [mail.get_content() for mail in mails(outbox)]
    assert sent and all("attacker" not in text for text in sent)
    links = [link for text in sent for link in re.findall(r"\S+://\S+", text)]
    assert links and all(link.startswith("https://ftp.example.bg/freeftp/") for link in links)
