"""Moving in, in Chromium: the administrator uploads a clients file, reads its dry run (a bar while it runs,
then the report row by row), imports it (the bar again, then the same report, now done) and downloads the
refused rows to correct them. Screenshots go to SCREENSHOTS_DIR."""
import pytest
from sqlalchemy import func, select

from app.clients.models import Client
from app.extensions import db
from tests.browser.test_walk import browser, live_server, log_in, problems_on, screenshot  # noqa: F401 (fixtures)
from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME

ROWS = 300  # enough rows for the bar to be seen moving
HEADER = "Клиентски номер;Вид;Име;ЕГН;Телефон;Адрес"


def clients_file():
    lines = [HEADER]
    for n in range(ROWS):
        lines.append(f"{880000 + n};физическо лице;Внесен Клиент {n};;0888 {n:06d};гр. София, ул. Пробна {n}")
    lines.append("880001;физическо лице;Повторен Номер;;;")
    lines.append("880999;физическо лице;Грешно Егн;7501020019;;")
    return ("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8")


@pytest.mark.once  # the import itself is tested on both databases in tests/imports/
def test_upload_dry_run_run_and_the_refused_rows(live_server, browser, app, tmp_path):  # noqa: F811
    path = tmp_path / "клиенти.csv"
    path.write_bytes(clients_file())
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(Client))
    page = log_in(browser, live_server, ADMIN_USERNAME, ADMIN_PASSWORD)
    page.goto(f"{live_server}/import/")
    page.select_option("#kind", "clients")
    page.set_input_files("#file", str(path))
    screenshot(page, "import-upload")
    page.click("#import-upload button[type=submit]")

    # The dry run: a bar while it runs, then the report.
    page.wait_for_selector("#import-totals", timeout=180_000)
    body = page.inner_text("body")
    assert "Пробно внасяне: нищо не е записано" in body
    assert "създаден: 300" in body and "отказан: 2" in body, body[:2000]
    refused = page.locator("#import-rows tr.danger")
    assert refused.count() == 2
    # The refusals come first, not under 300 created rows.
    assert page.locator("#import-rows tbody tr").first.get_attribute("class") == "danger"
    assert "повтаря" in refused.nth(0).inner_text() and "ред 3" in refused.nth(0).inner_text()
    assert "ЕГН" in refused.nth(1).inner_text()
    assert "Адреси без съвпадение с блок" in body
    assert problems_on(page) == []
    screenshot(page, "import-dry-run")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == before

    # The run: the bar moves, then the same report, done.
    page.click("#import-run")
    page.wait_for_selector("#import-bar")
    assert "Внасянето тече" in page.inner_text("body")
    screenshot(page, "import-running")
    page.wait_for_selector("#import-totals", timeout=300_000)
    body = page.inner_text("body")
    assert "Внасянето завърши" in body and "създаден: 300" in body and "отказан: 2" in body
    assert problems_on(page) == []
    screenshot(page, "import-done")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Client)) == before + ROWS
        assert db.session.scalar(select(Client.client_number).where(Client.name == "Внесен Клиент 7")) == "880007"

    # The refused rows, in the file's own columns with the reason, to correct and import again.
    with page.expect_download() as download:
        page.click("#import-refused")
    lines = download.value.path().read_bytes().decode("utf-8-sig").splitlines()
    assert lines[0] == HEADER + ";Причина за отказ"
    assert [line.split(";")[2] for line in lines[1:]] == ["Повторен Номер", "Грешно Егн"]
