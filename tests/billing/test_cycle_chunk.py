"""What a chunk of the billing cycle reads: a client's other subscriptions only when the client may be warned."""
from datetime import date

import sqlalchemy as sa

from app.billing.cycle import Chunk
from app.core.actors import SystemActor
from app.extensions import db
from tests.billing.test_cycle import subscriber


def test_a_chunk_reads_the_other_subscriptions_only_of_clients_it_may_warn(app):
    with app.app_context():
        _client, warned = subscriber("Предупредена", "warned@example.bg", paid_until=date(2026, 12, 31))
        _client, overdue = subscriber("Спрян", "overdue@example.bg", paid_until=date(2026, 11, 30))
        chunk = Chunk(SystemActor("тест"), None, date(2026, 12, 28))
        loaded = {subscription.id: subscription for subscription in chunk.load([warned, overdue])}
        # Inside the warning window (5 days): what the client owes counts its other subscriptions, read at once.
        assert "subscriptions" not in sa.inspect(loaded[warned].client).unloaded
        # Overdue and no advance: nothing to warn, nothing more read.
        assert "subscriptions" in sa.inspect(loaded[overdue].client).unloaded
        db.session.rollback()
