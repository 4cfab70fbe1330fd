"""Background entry points of FREEFTP: the indexer."""
from app.freeftp.indexer import index_tree
from app.freeftp.services import current_settings


def index(actor, run_id=None, full=False):
    """Brings the index of the FTP folder up to date (a run started by the index page, or a new one)."""
    return index_tree(current_settings().ftp_root, full=full, run_id=run_id)
