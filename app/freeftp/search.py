"""Finding files of the index by words of their names: any order, parts of words, case and accents ignored.

Names are stored folded (`services.fold`: lower case, accents taken off,
Cyrillic and Latin alike), and so are the searched words. Each word must
be a substring of the name:

- PostgreSQL: `search_name LIKE '%word%'`. When the planner expects few
  files to match (at most SPARSE_SHARE of the index), the GIN indexes find
  them all and one query gives the page and the count (`_by_trigram_index`):
  a word of three letters or more through the trigram index
  ix_freeftp_file_search_trgm (pg_trgm), a shorter one, which has no
  trigram, through the index of each name's letters and letter pairs
  ix_freeftp_file_grams (migration 0033); otherwise the files are read in id
  order and the walk stops at the rows asked for. Left to itself, the
  planner priced the two within 5 % of each other for `ORDER BY id LIMIT`:
  when ANALYZE's sample overestimated two partial words that 0.2 % of a
  million files hold ("remast edit"), it walked the key and filtered 783,000
  rows (212–440 ms; 10–30 ms through the index). Before the letter-pair
  index, a two-letter word beside a common longer one ("x2 webr") could only
  filter the walk: half the table read (64–285 ms; bench/README.md);
- SQLite: the FTS5 table freeftp_file_fts (trigram tokenizer, external
  content kept current by triggers, migration 0021) answers the words of
  three letters or more; shorter ones are LIKE on the rows it found.
"""
from dataclasses import dataclass

from sqlalchemy import Integer, Text, func, literal, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from app.core import like
from app.extensions import db
from app.freeftp.models import FreeFtpFile, FreeFtpFolder
from app.freeftp.services import search_words

MAX_WORDS = 8
COUNT_CAP = 1000
# PostgreSQL: up to this share of the files expected to match, the trigram index finds them all (its cost grows
# with the matches); above it, the id-order walk finds a page's worth within a few thousand rows.
SPARSE_SHARE = 0.01


@dataclass
class Found:
    name: str
    path: str
    size: int
    modified_at: object


@dataclass
class Results:
    files: list
    has_next: bool
    count: int  # capped at COUNT_CAP + 1
    words: list

    @property
    def count_text(self):
        return f"{COUNT_CAP}+" if self.count > COUNT_CAP else str(self.count)


def _phrase(words):
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


def _ids(words, limit, offset=0):
    """The ids of the files whose folded name holds every word, in id order: `limit` of them from `offset`.

    On SQLite, when every word has three letters or more, the FTS table alone
    answers, LIMIT inside it: it stops at the rows asked for (a common word's
    first page costs under a millisecond instead of materialising every match).
    """
    long_words = _long_words(words)
    short_words = [word for word in words if len(word) < 3]
    if db.engine.dialect.name == "sqlite" and long_words:
        fts = text("SELECT rowid FROM freeftp_file_fts WHERE freeftp_file_fts MATCH :phrase ORDER BY rowid"
                   + ("" if short_words else " LIMIT :limit OFFSET :offset"))
        if not short_words:
            return list(db.session.scalars(fts, {"phrase": _phrase(long_words), "limit": limit,
                                                 "offset": offset}))
        query = select(FreeFtpFile.id).where(FreeFtpFile.id.in_(
            fts.bindparams(phrase=_phrase(long_words)).columns(rowid=Integer)))
        words = short_words
    else:
        query = select(FreeFtpFile.id)
    query = query.where(*_holding(FreeFtpFile.search_name, words))
    return list(db.session.scalars(query.order_by(FreeFtpFile.id).offset(offset).limit(limit)))


def _holding(column, words):
    return [column.like(like.contains(word), escape=like.ESCAPE) for word in words]


def _long_words(words):
    """The words the trigram index can look up: a word of one or two letters has no trigram of its own."""
    return [word for word in words if len(word) >= 3]


def _grams_holding(column, grams):
    """PostgreSQL: the name has each of `grams` (letters and letter pairs; ix_freeftp_file_grams, migration 0033)."""
    return func.freeftp_grams(column).op("@>")(literal(sorted(grams), ARRAY(Text)))


def _indexed(column, words):
    """PostgreSQL: conditions the GIN indexes answer, exactly `_holding`'s: a word of three letters or more is a
    LIKE (trigrams, ix_freeftp_file_search_trgm); a shorter one is one of the name's letters or letter pairs
    (`freeftp_grams`), where `%` and `_` are letters like any other. The planner's estimate of these decides
    the shape (`_by_trigram_index`)."""
    return [column.like(like.contains(word), escape=like.ESCAPE) if len(word) >= 3 else _grams_holding(column, [word])
            for word in words]


def _found_by_indexes(column, words):
    """PostgreSQL: the conditions the index shape runs, giving the same rows as `_indexed`.

    With a word of one or two letters, the letter-pair index alone finds the
    candidates: the short words and every letter pair of the longer ones
    (exact for the short words, a superset for the longer), and the longer
    words' LIKE filters them on an expression no index has. ANDed with the
    trigram index's bitmap instead, every row found was checked again with
    freeftp_grams computed afresh (trigram matches are always rechecked):
    "x2 webr", 2,020 rows, 135 ms; alone, the letter-pair index needs no
    recheck: 21 ms.
    """
    short_words = [word for word in words if len(word) < 3]
    long_words = _long_words(words)
    if not short_words:
        return _holding(column, long_words)
    grams = set(short_words) | {word[start:start + 2] for word in long_words for start in range(len(word) - 1)}
    return [_grams_holding(column, grams), *_holding(column.concat(""), long_words)]


def _by_trigram_index(words):
    """PostgreSQL: whether the planner expects at most SPARSE_SHARE of the files to hold the words.

    Its estimate (EXPLAIN, no execution: well under a millisecond) decides the
    shape; the planner's own choice between the two shapes, for ORDER BY id
    LIMIT, was the wrong one for two words.
    """
    if db.engine.dialect.name != "postgresql":
        return False
    connection = db.session.connection()
    # Compiled for the connected dialect: before a process's first connection, the dialect still doubles a
    # backslash in a literal (ESCAPE '\\'), which PostgreSQL refuses ("invalid escape string").
    compiled = select(FreeFtpFile.id).where(*_indexed(FreeFtpFile.search_name, words)).compile(connection)
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    expected = plan[0]["Plan"]["Plan Rows"]
    files = connection.execute(text("SELECT reltuples FROM pg_class WHERE oid = 'freeftp_file'::regclass")).scalar()
    return expected <= max(SPARSE_SHARE * (files or 0), COUNT_CAP)


def _ids_by_trigram_index(words, limit, offset):
    """PostgreSQL, few matches: (`limit` ids from `offset` in id order, how many match) in one query.

    The matches are fenced in a MATERIALIZED CTE, so the planner cannot
    trade the indexes for the primary key's order; then one sort of the few.
    """
    hits = (select(FreeFtpFile.id).where(*_found_by_indexes(FreeFtpFile.search_name, words))
            .cte("hits").prefix_with("MATERIALIZED"))
    matching = select(hits.c.id)
    rows = db.session.execute(matching.add_columns(func.count().over()).order_by(hits.c.id)
                              .offset(offset).limit(limit)).all()
    if rows:
        return [row[0] for row in rows], rows[0][1]
    if not offset:
        return [], 0
    return [], db.session.scalar(select(func.count()).select_from(matching.subquery()))  # a page past the end


def find(search_text, page=1, per_page=50):
    """One page of the files matching `search_text`, or None when it holds no word.

    In the index's order (folder by folder, as the indexer found them): a word
    that half the tree has stops at the first page's rows instead of
    sorting them all.
    """
    words = search_words(search_text)[:MAX_WORDS]
    if not words:
        return None
    offset = (page - 1) * per_page
    if _by_trigram_index(words):
        ids, count = _ids_by_trigram_index(words, per_page + 1, offset)
        count = min(count, COUNT_CAP + 1)
    elif offset + per_page + 1 <= COUNT_CAP + 1:
        # The first pages lie within the count's ids: one walk gives both.
        found = _ids(words, COUNT_CAP + 1)
        count, ids = len(found), found[offset:offset + per_page + 1]
    else:
        count = len(_ids(words, COUNT_CAP + 1))
        ids = _ids(words, per_page + 1, offset)
    rows = db.session.execute(
        select(FreeFtpFile.name, FreeFtpFolder.path, FreeFtpFile.size, FreeFtpFile.modified_at)
        .join(FreeFtpFolder, FreeFtpFolder.id == FreeFtpFile.folder_id)
        .where(FreeFtpFile.id.in_(ids[:per_page]))
        .order_by(FreeFtpFile.id)
    ).all() if ids else []
    files = [Found(name, f"{folder}/{name}" if folder else name, size, modified) for name, folder, size, modified
             in rows]
    return Results(files=files, has_next=len(ids) > per_page, count=count, words=words)
