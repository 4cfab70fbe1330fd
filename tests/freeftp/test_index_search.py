"""The index of the FTP tree (added, changed, removed files; unchanged folders not read again) and the search."""
import os
import time

import pytest
from sqlalchemy import select

from app.extensions import db
from app.freeftp.indexer import index_tree
from app.freeftp.models import FreeFtpIndexRun
from tests.conftest import Browser, visible_text


def _index(app, root, full=False):
    with app.app_context():
        run_id = index_tree(str(root), full=full)
        run = db.session.get(FreeFtpIndexRun, run_id)
        return {key: getattr(run, key) for key in ("status", "folders_done", "folders_read", "files_added",
                                                   "files_changed", "files_removed")}


def _touch_folder_later(path):
    """A folder's mtime moves on (file systems keep it to the nanosecond, some to the second)."""
    later = time.time() + 5
    os.utime(path, (later, later))


def _search(app, text, page=1):
    response = Browser(app, remote_addr="203.0.113.8").get("/freeftp/search", query_string={"q": text,
                                                                                             "page": page})
    assert response.status_code == 200
    return visible_text(response.text)


def _tree(root):
    (root / "Музика" / "Щурците").mkdir(parents=True)
    (root / "Музика" / "Щурците" / "Ще бъда там.mp3").write_bytes(b"a" * 3_500_000)
    (root / "Музика" / "Bulgarian_Voices-Kalimankou_Denkou.flac").write_bytes(b"b" * 100)
    (root / "Филми").mkdir()
    (root / "Филми" / "Време разделно (1988).mkv").write_bytes(b"c" * 10)
    (root / "readme.txt").write_text("FREEFTP")


def test_the_index_picks_up_added_changed_and_removed_files_and_skips_unchanged_folders(app, settings):
    root = settings[0]
    _tree(root)
    first = _index(app, root)
    assert first == {"status": "done", "folders_done": 4, "folders_read": 4, "files_added": 4,
                     "files_changed": 0, "files_removed": 0}
    # Nothing changed: no folder is listed again.
    assert _index(app, root)["folders_read"] == 0

    (root / "Филми" / "Време разделно (1988).mkv").unlink()
    (root / "Филми" / "Козият рог.avi").write_bytes(b"d" * 20)
    _touch_folder_later(root / "Филми")
    again = _index(app, root)
    assert again["folders_read"] == 1 and again["files_added"] == 1 and again["files_removed"] == 1

    # A folder removed with everything in it.
    for name in os.listdir(root / "Музика" / "Щурците"):
        (root / "Музика" / "Щурците" / name).unlink()
    (root / "Музика" / "Щурците").rmdir()
    _touch_folder_later(root / "Музика")
    gone = _index(app, root)
    assert gone["files_removed"] == 1 and gone["folders_read"] == 1

    # A file rewritten in place changes no folder: a full run finds it.
    (root / "readme.txt").write_text("FREEFTP, по-дълго")
    assert _index(app, root, full=True)["files_changed"] == 1


def test_search_finds_files_by_parts_of_words_in_cyrillic_and_latin_ignoring_case_and_accents(app, settings):
    root = settings[0]
    _tree(root)
    _index(app, root)
    found = _search(app, "бъд")
    assert "Ще бъда там.mp3" in found and "/Музика/Щурците/Ще бъда там.mp3" in found
    assert "3,50 MB" in found
    assert "Ще бъда там.mp3" in _search(app, "ЩЕ БЪДА")  # any case, words in any order
    assert "Ще бъда там.mp3" in _search(app, "там ще")
    assert "Bulgarian_Voices-Kalimankou_Denkou.flac" in _search(app, "kaliMANK voic")
    assert "Време разделно (1988).mkv" in _search(app, "разделн 1988")
    assert "Няма файл, отговарящ на" in _search(app, "бъдещ")
    # Accents: the name's and the search's are both taken off.
    (root / "Café Tacvba – María.mp3").write_bytes(b"e")
    _touch_folder_later(root)
    _index(app, root)
    assert "Café Tacvba – María.mp3" in _search(app, "cafe maria")
    assert "Café Tacvba – María.mp3" in _search(app, "CAFÉ")
    # Two-letter words work too.
    assert "Ще бъда там.mp3" in _search(app, "ще")
    # A removed file is no longer found.
    (root / "Филми" / "Време разделно (1988).mkv").unlink()
    _touch_folder_later(root / "Филми")
    _index(app, root)
    assert "Време разделно" not in _search(app, "разделно")


def test_percent_and_underscore_in_a_search_match_only_themselves(app, settings):
    root = settings[0]
    for name in ("a_b.txt", "axb.txt", "a b.txt", "100%.mp3", "1000.mp3", "отстъпка 50%.pdf", "x_y_z.iso",
                 "xayaz.iso", "back\\slash.txt"):
        (root / name).write_bytes(b"x")
    _index(app, root)

    def found(text):
        page = _search(app, text)
        return {name for name in ("a_b.txt", "axb.txt", "a b.txt", "100%.mp3", "1000.mp3", "отстъпка 50%.pdf",
                                  "x_y_z.iso", "xayaz.iso", "back\\slash.txt") if name in page}

    assert found("a_b") == {"a_b.txt"}  # FTS (three letters and more)
    assert found("_") == {"a_b.txt", "x_y_z.iso"}  # LIKE (shorter)
    assert found("x_y_z") == {"x_y_z.iso"}
    assert found("%") == {"100%.mp3", "отстъпка 50%.pdf"}
    assert found("100%") == {"100%.mp3"}
    assert found("0%") == {"100%.mp3", "отстъпка 50%.pdf"}
    assert found("50% отст") == {"отстъпка 50%.pdf"}
    assert found("h\\s") == {"back\\slash.txt"}  # the escape character is no word character: two words
    assert found("a.b") == {"a_b.txt", "axb.txt", "a b.txt", "back\\slash.txt"}  # a dot separates words


def test_both_shapes_of_the_postgresql_search_give_the_same_pages_and_counts(app, settings, monkeypatch):
    """PostgreSQL: the trigram index's shape (few matches) and the id-order walk (many) answer alike."""
    from app.freeftp import search

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        pytest.skip("PostgreSQL's two query shapes")
    root = settings[0]
    (root / "Албум").mkdir()
    for number in range(120):
        (root / "Албум" / f"{'remastered' if number % 2 else 'original'} edition_{number:03d} ще.flac").write_bytes(
            b"x")
    _index(app, root)

    def pages(text):
        with app.app_context():
            found = [search.find(text, page=page, per_page=25) for page in (1, 2, 3, 9)]
            return [([file.name for file in result.files], result.has_next, result.count) for result in found]

    answers = {}
    for by_index in (True, False):
        monkeypatch.setattr(search, "_by_trigram_index", lambda words, by_index=by_index: by_index)
        answers[by_index] = [pages(text) for text in ("remast edit", "edition_0", "ще remast", "_1", "nothing",
                                                            "1 ще", "n_0 1")]
    assert answers[True] == answers[False]
    remastered = answers[True][0]
    assert [len(names) for names, _more, _count in remastered] == [25, 25, 10, 0]
    assert remastered[0][0][0] == "remastered edition_001 ще.flac" and remastered[0][2] == 60
    assert remastered[3][2] == 60  # a page past the end still counts the matches
    # The counts of "edition_0", "ще remast", "_1" and "nothing".
    assert [answers[True][search][0][2] for search in (1, 2, 3, 4)] == [100, 60, 20, 0]
    # Words of one and two letters only (PostgreSQL: the letter-pair index): "1" in 19 numbers below 100 and
    # in 100-119; "n_0" and "1" only in those below 100.
    assert [answers[True][search][0][2] for search in (5, 6)] == [39, 19]
    monkeypatch.undo()
    with app.app_context():  # 120 files: the planner expects few, the index answers
        assert search._by_trigram_index(["remast", "edit"])


def test_search_results_link_to_the_ftp_server_and_come_in_pages(app, settings):
    root = settings[0]
    (root / "Снимки").mkdir()
    for number in range(60):
        (root / "Снимки" / f"море-{number:03d}.jpg").write_bytes(b"x")
    _index(app, root)
    response = Browser(app).get("/freeftp/search?q=море")
    assert "ftp://localhost:2121/%D0%A1%D0%BD%D0%B8%D0%BC%D0%BA%D0%B8/%D0%BC%D0%BE%D1%80%D0%B5-000.jpg" in \
        response.text
    first = visible_text(response.text)
    assert "Намерени: 60" in first and "море-049.jpg" in first and "море-050.jpg" not in first
    second = _search(app, "море", page=2)
    assert "море-050.jpg" in second and "море-059.jpg" in second and "море-000.jpg" not in second
    assert Browser(app).get("/freeftp/search?q=море&page=abc").status_code == 200


def test_the_index_page_shows_the_runs_and_starts_one(app, settings, admin):
    _tree(settings[0])
    page = visible_text(admin.get("/freeftp/index/").text)
    assert "Индексът още не е изграден" in page
    started = admin.submit("/freeftp/index/run", {}, form_url="/freeftp/index/")
    assert started.status_code == 302
    from app.core.queue import wait_for_background_jobs

    wait_for_background_jobs(app)
    page = visible_text(admin.get("/freeftp/index/").text)
    assert "завършен" in page and "Файлове в индекса: 4" in page and "100%" in page
    with app.app_context():
        assert db.session.scalar(select(FreeFtpIndexRun.status)) == "done"

