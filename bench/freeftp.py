"""FREEFTP at scale: index 1,000,000 files, index again with nothing changed, search (common, rare, partial).

On SQLite (FTS5 trigram, the embedded default) and on PostgreSQL (pg_trgm), each in a database of its own
(a file under the tree's folder; `billing_bench_freeftp` on the server of BENCH_DATABASE_URL), created
afresh each run. The tree — 10,000 folders of 100 empty files named from Bulgarian and English words — is
made once under BENCH_FREEFTP_TREE (default /tmp/freeftp-bench-tree) and reused.

    .venv/bin/python bench/freeftp.py [--files 1000000] [--only sqlite|postgresql]
"""
import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.freeftp import search  # noqa: E402
from app.freeftp.indexer import index_tree  # noqa: E402
from app.freeftp.models import FreeFtpIndexRun  # noqa: E402

WORDS = ("песен музика филм концерт сезон епизод книга снимки море планина лято зима софия пловдив варна "
         "щурците сигнал тоника фсб каризма стари градски песни народни хора ръченица право хоро бургас "
         "song music movie live season episode book photos sea mountain summer winter best greatest hits "
         "remastered deluxe edition collection bluray webrip x264 flac mp3 original soundtrack part disc").split()
EXTENSIONS = ("mp3", "flac", "mkv", "avi", "mp4", "jpg", "pdf", "epub", "zip", "iso")
RARE = "Кукерландия"  # in 10 files only
SEARCHES = {"common": ("песен", 1), "common, page 20": ("песен", 20), "common two words": ("music live", 1),
            "rare": ("кукерланд", 1), "partial": ("щурц", 1), "partial latin": ("remast edit", 1),
            "two partial words": ("стар градск", 1), "a short and a partial word": ("x2 webr", 1),
            "nothing": ("несъществуващо", 1)}
PER_FOLDER = 100


def make_tree(root, files):
    marker = root.parent / f"{root.name}.made-{files}"  # outside the tree: not indexed
    if marker.exists():
        return
    rng = random.Random(17)
    folders = files // PER_FOLDER
    started = time.monotonic()
    for number in range(folders):
        folder = root / f"{rng.choice(WORDS).title()} {number // 100:03d}" / f"{rng.choice(WORDS)} {number:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(PER_FOLDER):
            words = " ".join(rng.choice(WORDS) for _word in range(rng.randint(2, 4)))
            if (number * PER_FOLDER + index) % (files // 10) == 7:
                words += f" {RARE}"
            name = f"{words.title()} {index:03d}.{rng.choice(EXTENSIONS)}"
            os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY, 0o644))
    marker.touch()
    print(f"tree: {files:,} files in {folders:,} folders made in {time.monotonic() - started:.0f} s", flush=True)


def database(kind, root, name, reuse):
    if kind == "sqlite":
        path = root.parent / "freeftp-bench.db"
        if not reuse:
            path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    url = sa.engine.make_url(os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        exists = connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
        if not (reuse and exists):
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def run(kind, root, name, reuse):
    from flask_migrate import upgrade

    app = create_app({"SQLALCHEMY_DATABASE_URI": database(kind, root, name, reuse), "REDIS_URL": None,
                      "TESTING": True})
    with app.app_context():
        upgrade()
        figures = {}
        indexed = reuse and db.session.scalar(sa.select(sa.func.count()).select_from(FreeFtpIndexRun).where(
            FreeFtpIndexRun.status == "done"))
        for label in () if indexed else ("first index", "again, nothing changed"):
            started = time.monotonic()
            run_id = index_tree(str(root))
            seconds = time.monotonic() - started
            run = db.session.get(FreeFtpIndexRun, run_id)
            figures[label] = seconds
            print(f"{kind}: {label}: {seconds:.1f} s — {run.folders_read:,} of {run.folders_done:,} folders "
                  f"read, +{run.files_added:,} -{run.files_removed:,}", flush=True)
        if kind == "postgresql":
            # Where autovacuum brings the tables within minutes of an index run (insert-only tables are vacuumed
            # too since PostgreSQL 13): the folders' statistics (never analyzed, the planner hashed all 14,720
            # folders to name 50 files: 12–19 ms) and the GIN indexes' pending lists emptied.
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(sa.text("VACUUM ANALYZE freeftp_file, freeftp_folder"))
        for label, (text, page) in SEARCHES.items():
            times = []
            for _repeat in range(7):
                started = time.monotonic()
                results = search.find(text, page=page)
                times.append(time.monotonic() - started)
                db.session.rollback()
            figures[label] = statistics.median(times)
            print(f"{kind}: search {label} ({text!r}, page {page}): median {statistics.median(times) * 1000:.1f} ms, "
                  f"found {results.count_text}", flush=True)
        db.session.remove()
        db.engine.dispose()
    return figures


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--database", default="billing_bench_freeftp",
                        help="PostgreSQL: the database's name on the server of BENCH_DATABASE_URL")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the databases of an earlier run (migrated, not indexed again) and only search")
    arguments = parser.parse_args()
    root = Path(os.environ.get("BENCH_FREEFTP_TREE", "/tmp/freeftp-bench-tree"))
    root.mkdir(parents=True, exist_ok=True)
    make_tree(root, arguments.files)
    for kind in ("sqlite", "postgresql"):
        if arguments.only in (None, kind):
            run(kind, root, arguments.database, arguments.reuse)


if __name__ == "__main__":
    main()
