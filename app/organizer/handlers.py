"""What the organizer does when other modules' operations happen (connected in app.organizer.wiring.init)."""
from app.organizer.services import open_installation_task


def open_installation(actor, subscription, **_details):
    """A sold service that needs installation gets its installation task; why none was opened goes back to the
    operator."""
    return open_installation_task(actor, subscription)
