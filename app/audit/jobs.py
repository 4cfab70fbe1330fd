"""Jobs of the LOG itself."""
from app.audit.models import LogEntry
from app.audit.services import record_event


def record_heartbeat(actor, note):
    """Write a "background job" entry to the LOG; shows that jobs run at all."""
    record_event(LogEntry.JOB, user=actor, note=note)
