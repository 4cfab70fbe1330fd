"""The client card's История: the client's business — the sale, the payment, the task, the invoice — each row
naming and linking its record; the views of the ЕГН (one per card opened) folded apart."""
import re

from sqlalchemy import select

from app.billing.models import Payment
from app.clients.subscriptions import sell_subscription
from app.extensions import db
from app.organizer.models import Task
from tests.conftest import visible_text
from tests.factories import head_office_cashier, make_client, make_service
from tests.organizer.conftest import make_installation_type


def _history_tab(html):
    return html[html.index('id="tab-history"'):]


def test_the_card_history_shows_the_sale_the_payment_and_the_task_and_folds_the_egn_views(app, admin):
    with app.app_context():
        make_installation_type()
        client = make_client(None, "Петър Историев", egn="8012056037")
        other = make_client(None, "Друг Клиент")
        service = make_service("Интернет 200")
        service.needs_installation = True
        sell_subscription(head_office_cashier(), client, service)
        db.session.commit()
        client_id, other_id = client.id, other.id
        task_id = db.session.scalar(select(Task.id).where(Task.client_id == client_id))
    admin.submit(f"/payments/record/{client_id}", {"amount": "25.00", "currency": "EUR", "request_key": "h-1"})
    admin.submit(f"/payments/record/{other_id}", {"amount": "9.00", "currency": "EUR", "request_key": "h-2"})
    with app.app_context():
        payment_id = db.session.scalar(select(Payment.id).where(Payment.client_id == client_id))
        other_payment = db.session.scalar(select(Payment.id).where(Payment.client_id == other_id))
    for _ in range(3):
        html = admin.get(f"/clients/show/{client_id}?tab=all").text
    tab = _history_tab(html)
    main = tab[:tab.index("personal-views")]
    text = visible_text(main)
    assert "Плащане" in text and "25,00" in text and "Задача" in text and "Интернет 200" in text
    assert f'href="/payments/show/{payment_id}"' in main and f'href="/tasks/show/{task_id}"' in main
    assert f"/payments/show/{other_payment}" not in main and "9,00" not in text  # another client's business
    assert "Преглед на лични данни" not in text
    folded = visible_text(tab[tab.index("personal-views"):tab.index("</details>")])
    # The card was opened three times: three views, apart.
    count = int(re.search(r"Кой е преглеждал личните данни \(ЕГН\) \((\d+)\)", folded).group(1))
    assert count == 3 and folded.count("Администратор") == 3
