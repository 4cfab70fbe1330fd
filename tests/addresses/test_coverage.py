"""Neighbourhoods, blocks and the coverage page."""
import re

from app.addresses.models import Block, City, Neighbourhood, Technology
from app.extensions import db
from tests.conftest import visible_text


def make_directory(app):
    with app.app_context():
        sofia = City(name="София")
        docsis, lan, ftth = Technology(name="DOCSIS"), Technology(name="LAN"), Technology(name="FTTH")
        mladost = Neighbourhood(city=sofia, kind="ж.к.", name="Младост 1")
        lyulin = Neighbourhood(city=sofia, kind="ж.к.", name="Люлин 5")
        db.session.add_all([
            Block(neighbourhood=mladost, name="105", entrances="А, Б", technologies=[docsis, lan]),
            Block(neighbourhood=mladost, name="12", technologies=[ftth]),
            Block(neighbourhood=lyulin, name="520", technologies=[lan]),
        ])
        db.session.commit()
        return mladost.id


def coverage_rows(html):
    """{block: [cells]} from the coverage table."""
    rows = {}
    for row in re.findall(r"<tr>\s*<td>(.*?)</tr>", html, flags=re.S):
        cells = [visible_text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", "<td>" + row, flags=re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_coverage_shows_blocks_by_technology(app, admin):
    mladost_id = make_directory(app)
    page = admin.get("/neighbourhoods/coverage/")
    assert page.status_code == 200
    header = re.findall(r"<th>([^<]*)</th>", page.text)
    assert header == ["Блок", "DOCSIS", "FTTH", "LAN"]
    rows = coverage_rows(page.text)
    assert rows["ж.к. Младост 1, бл. 105"] == ["Да", "—", "Да"]
    assert rows["ж.к. Младост 1, бл. 12"] == ["—", "Да", "—"]
    assert rows["ж.к. Люлин 5, бл. 520"] == ["—", "—", "Да"]

    filtered = coverage_rows(admin.get(f"/neighbourhoods/coverage/?neighbourhood={mladost_id}").text)
    assert set(filtered) == {"ж.к. Младост 1, бл. 105", "ж.к. Младост 1, бл. 12"}


def test_block_page_lists_its_technologies(app, admin):
    make_directory(app)
    page = visible_text(admin.get("/blocks/list/").text)
    assert "DOCSIS, LAN" in page and "Технически възможности" in page
