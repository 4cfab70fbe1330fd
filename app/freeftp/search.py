"""Finding files of the index by words of their names: any order, parts of words, case and accents ignored.

Names are stored folded (`services.fold`: lower case, accents taken off,
Cyrillic and Latin alike), and so are the searched words. Each word must
be a substring of the name:

- PostgreSQL: `search_name LIKE '%word%'`, served by the trigram GIN index
  ix_freeftp_file_search_trgm (pg_trgm);
- SQLite: the FTS5 table freeftp_file_fts (trigram tokenizer, external
  content kept current by triggers, migration 0021) answers the words of
  three letters or more; shorter ones are LIKE on the rows it found.
"""
from dataclasses import dataclass

from sqlalchemy import Integer, select, text

from app.core import like
from app.extensions import db
from app.freeftp.models import FreeFtpFile, FreeFtpFolder
from app.freeftp.services import search_words

MAX_WORDS = 8
COUNT_CAP = 1000


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
    long_words = [word for word in words if len(word) >= 3]
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
    for word in words:
        query = query.where(FreeFtpFile.search_name.like(like.contains(word), escape=like.ESCAPE))
    return list(db.session.scalars(query.order_by(FreeFtpFile.id).offset(offset).limit(limit)))


def find(search_text, page=1, per_page=50):
    """One page of the files matching `search_text`, or None when it holds no word.

    In the index's order (folder by folder, as the indexer found them): a word
    that half the tree has stops at the first page's rows instead of
    sorting them all.
    """
    words = search_words(search_text)[:MAX_WORDS]
    if not words:
        return None
    count = len(_ids(words, COUNT_CAP + 1))
    ids = _ids(words, per_page + 1, (page - 1) * per_page)
    rows = db.session.execute(
        select(FreeFtpFile.name, FreeFtpFolder.path, FreeFtpFile.size, FreeFtpFile.modified_at)
        .join(FreeFtpFolder, FreeFtpFolder.id == FreeFtpFile.folder_id)
        .where(FreeFtpFile.id.in_(ids[:per_page]))
        .order_by(FreeFtpFile.id)
    ).all() if ids else []
    files = [Found(name, f"{folder}/{name}" if folder else name, size, modified) for name, folder, size, modified
             in rows]
    return Results(files=files, has_next=len(ids) > per_page, count=count, words=words)
