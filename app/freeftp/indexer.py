"""The index of the FTP tree: names, paths, sizes and times of its files, brought up to date incrementally.

A folder's modification time changes when an entry is added to it, removed
or renamed. A run therefore lists only the folders whose time differs from
the one stored (and new folders); an unchanged folder is not read again —
its subfolders are known from the index and only looked at (one stat
each). A file rewritten in place (same name, same folder) changes no
folder's time: `full=True` lists every folder again.

The run writes in chunks of CHUNK folders, each its own unit of work, and
keeps its progress (folders done of those known before it started) on its
FreeFtpIndexRun row, which the index page shows.
"""
import logging
import os
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, insert, or_, select, update

from app.core import like
from app.core.formatting import utcnow
from app.core.transaction import finish, unit_of_work
from app.extensions import db
from app.freeftp.models import FreeFtpFile, FreeFtpFolder, FreeFtpIndexRun
from app.freeftp.services import fold

log = logging.getLogger(__name__)

CHUNK = 500  # folders per unit of work
MAX_NAME = 255
MAX_PATH = 1000
STALE_RUN = timedelta(hours=6)  # a "running" run older than this died without saying so


def _moment(seconds):
    return datetime.fromtimestamp(int(seconds), timezone.utc).replace(tzinfo=None)


def _storable(name, parent):
    """A name the database can hold (UTF-8, not too long), with its path."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # bytes the file system gave that are not UTF-8
        return None
    path = f"{parent}/{name}" if parent else name
    if len(name) > MAX_NAME or len(path) > MAX_PATH:
        return None
    return path


def _listing(absolute, relative):
    """(files {name: (size, mtime)}, subfolder paths) of one folder; symbolic links are left out."""
    files, folders = {}, []
    with os.scandir(absolute) as entries:
        for entry in entries:
            path = _storable(entry.name, relative)
            if path is None or entry.is_symlink():
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(path)
                elif entry.is_file(follow_symlinks=False):
                    info = entry.stat(follow_symlinks=False)
                    files[entry.name] = (info.st_size, _moment(info.st_mtime))
            except OSError:  # removed while listed
                continue
    return files, folders


class Indexer:
    def __init__(self, root, run_id, full=False):
        self.root = os.path.abspath(root)
        self.run_id = run_id
        self.full = full
        self.counts = {"folders_done": 0, "folders_read": 0, "files_added": 0, "files_changed": 0,
                       "files_removed": 0}
        self.known = {}  # path → (id, mtime_ns)
        self.children = {}  # folder id → [subfolder paths]
        for folder_id, path, parent_id, mtime_ns in db.session.execute(
                select(FreeFtpFolder.id, FreeFtpFolder.path, FreeFtpFolder.parent_id, FreeFtpFolder.mtime_ns)):
            self.known[path] = (folder_id, mtime_ns)
            self.children.setdefault(parent_id, []).append(path)

    def run(self):
        pending = [("", None)]
        since_commit = 0
        while pending:
            path, parent_id = pending.pop()
            pending.extend(self._visit(path, parent_id))
            self.counts["folders_done"] += 1
            since_commit += 1
            if since_commit >= CHUNK:
                self._progress()
                since_commit = 0
        self._progress()

    def _progress(self):
        db.session.execute(update(FreeFtpIndexRun).where(FreeFtpIndexRun.id == self.run_id).values(**self.counts))
        finish()

    def _visit(self, path, parent_id):
        """Brings one folder up to date; returns its subfolders to visit, as (path, own id)."""
        absolute = os.path.join(self.root, path) if path else self.root
        known = self.known.get(path)
        try:
            mtime_ns = os.stat(absolute, follow_symlinks=False).st_mtime_ns
        except OSError:
            if known is not None:
                self._remove_folder(path)
            return []
        if known is not None and known[1] == mtime_ns and not self.full:
            return [(child, known[0]) for child in self.children.get(known[0], ())]
        try:
            files, folders = _listing(absolute, path)
        except OSError as error:
            log.warning("FREEFTP index: %s not read: %s", absolute, error)
            return [(child, known[0]) for child in self.children.get(known[0], ())] if known else []
        self.counts["folders_read"] += 1
        if known is None:
            folder_id = db.session.scalar(insert(FreeFtpFolder).values(
                path=path, parent_id=parent_id, mtime_ns=mtime_ns).returning(FreeFtpFolder.id))
            self.known[path] = (folder_id, mtime_ns)
        else:
            folder_id = known[0]
            db.session.execute(update(FreeFtpFolder).where(FreeFtpFolder.id == folder_id).values(mtime_ns=mtime_ns))
            self.known[path] = (folder_id, mtime_ns)
        self._update_files(folder_id, files)
        listed = set(folders)
        for child in self.children.get(folder_id, ()):
            if child not in listed:
                self._remove_folder(child)
        self.children[folder_id] = list(folders)
        return [(child, folder_id) for child in folders]

    def _update_files(self, folder_id, files):
        stored = {name: (file_id, size, modified) for file_id, name, size, modified in db.session.execute(
            select(FreeFtpFile.id, FreeFtpFile.name, FreeFtpFile.size, FreeFtpFile.modified_at)
            .where(FreeFtpFile.folder_id == folder_id))}
        added = [{"folder_id": folder_id, "name": name, "search_name": fold(name)[:MAX_NAME], "size": size,
                  "modified_at": modified} for name, (size, modified) in sorted(files.items()) if name not in stored]
        removed = [file_id for name, (file_id, _size, _modified) in stored.items() if name not in files]
        for name, (size, modified) in files.items():
            old = stored.get(name)
            if old is not None and (old[1], old[2]) != (size, modified):
                db.session.execute(update(FreeFtpFile).where(FreeFtpFile.id == old[0]).values(
                    size=size, modified_at=modified))
                self.counts["files_changed"] += 1
        for start in range(0, len(added), 1000):
            db.session.execute(insert(FreeFtpFile), added[start:start + 1000])
        for start in range(0, len(removed), 1000):
            db.session.execute(delete(FreeFtpFile).where(FreeFtpFile.id.in_(removed[start:start + 1000])))
        self.counts["files_added"] += len(added)
        self.counts["files_removed"] += len(removed)

    def _remove_folder(self, path):
        """A folder gone from the tree: it, its subfolders and their files leave the index."""
        below = FreeFtpFolder.path.like(like.starts_with(path + "/"), escape=like.ESCAPE)
        ids = list(db.session.scalars(select(FreeFtpFolder.id).where(or_(FreeFtpFolder.path == path, below))))
        for start in range(0, len(ids), 1000):
            chunk = ids[start:start + 1000]
            removed = db.session.execute(delete(FreeFtpFile).where(FreeFtpFile.folder_id.in_(chunk))).rowcount
            self.counts["files_removed"] += removed
        # Deepest first: a folder's parent_id refers to its parent.
        for folder_id in sorted(ids, reverse=True):
            db.session.execute(delete(FreeFtpFolder).where(FreeFtpFolder.id == folder_id))
        gone = set(ids)
        for known_path in [known for known, (folder_id, _m) in self.known.items() if folder_id in gone]:
            del self.known[known_path]


def start_run():
    """A new run's row, committed; None while another run is going."""
    with unit_of_work():
        running = db.session.scalar(select(FreeFtpIndexRun.id).where(
            FreeFtpIndexRun.status == "running", FreeFtpIndexRun.started_at > utcnow() - STALE_RUN))
        if running is not None:
            return None
        total = db.session.scalar(select(db.func.count(FreeFtpFolder.id)))
        run = FreeFtpIndexRun(folders_total=total or 0)
        db.session.add(run)
        db.session.flush()
        run_id = run.id
    return run_id


def index_tree(root, full=False, run_id=None):
    """Brings the index of `root` up to date; returns the run's id (None when another run is going)."""
    run_id = run_id or start_run()
    if run_id is None:
        return None
    started = time.monotonic()
    try:
        if not root or not os.path.isdir(root):
            raise OSError(f"no folder {root!r}")
        Indexer(root, run_id, full=full).run()
    except Exception as error:  # noqa: BLE001 — the run says it failed, and why; the job fails too
        db.session.rollback()
        with unit_of_work():
            db.session.execute(update(FreeFtpIndexRun).where(FreeFtpIndexRun.id == run_id).values(
                status="failed", finished_at=utcnow(), error=f"{type(error).__name__}: {error}"[:500],
                seconds=time.monotonic() - started))
        raise
    with unit_of_work():
        db.session.execute(update(FreeFtpIndexRun).where(FreeFtpIndexRun.id == run_id).values(
            status="done", finished_at=utcnow(), seconds=time.monotonic() - started))
    return run_id
