"""Every operation checks its own right first, whoever calls it (panel, API, job, portal, import).

The test finds every public function of every module that holds operations
(each app/*/services.py, and the other operation modules listed in
EXTRA_MODULES) and holds each to its classification below:

- WRITERS: operations an actor calls. Each is called, with plausible
  arguments, by an operator whose role holds no permission at all, and must
  be refused (FieldErrors, or its module's refusal) with nothing written:
  no row more or less in any table, nothing pending in the session.
- READ_LOGS: "the page showed X to the actor" LOG entries: for an actor
  without the right they write nothing (and refuse nothing: the page did).
- NOT_OPERATIONS: functions that write but are no actor's operation, each
  with the reason: a step inside an operation that checked its right first,
  a system path with its own authentication, the console, the demo.
- READ_ONLY: the reviewed list of functions that write nothing.

A public function added to one of these modules fails
test_every_public_function_is_classified until it is put in one of them.
"""
import glob
import importlib
import inspect
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from flask_appbuilder import Model

from app.billing.charges import add_charge, payment_method
from app.billing.cycle import cycle_actor
from app.billing.freeze import freeze_subscription
from app.cashdesk.services import CashDeskRefused
from app.collectors.models import PaymentCollector
from app.core.errors import FieldErrors
from app.core.formatting import local_today
from app.epay.models import EpaySettings
from app.extensions import db
from app.freeftp.models import FreeFtpAccount
from app.notifications import templates as mail_templates
from app.protection.models import AllowedAddress
from app.radius.models import Nas
from app.security.permissions import ADD_SUBSCRIPTIONS
from tests.epay.test_easypay import RegBill
from tests.portal.helpers import fault_type
from tests.factories import (
    _contract_record,
    _task_record,
    head_office_cashier,
    make_client,
    make_operator,
    make_payment,
    make_service,
    make_subscription,
)

ROOT = Path(__file__).resolve().parents[2]


def _with_reg_bill(operation, *args):
    """An EasyPay code asked of ePay.bg's reg_bill.cgi standing on 127.0.0.1 (the refusals never reach it)."""
    server = RegBill()
    current_app.config["EASYPAY_URL"] = server.url
    try:
        return operation(*args)
    finally:
        server.close()
        current_app.config.pop("EASYPAY_URL")
EXTRA_MODULES = [
    "app.clients.subscriptions", "app.billing.freeze", "app.billing.charges", "app.billing.opening",
    "app.notifications.templates",
    "app.reports.exports", "app.security.two_factor", "app.networks.ipv6",
]
# What an operation may raise when it refuses: FieldErrors (the panel shows it under the fields, the API answers
# 422), or the cash desk's own refusal, which its view flashes.
REFUSALS = (FieldErrors, CashDeskRefused)
NO_RIGHTS = "Без права (тест)"


def operation_modules():
    services = sorted(str(path.relative_to(ROOT).with_suffix("")).replace("/", ".")
                      for path in ROOT.glob("app/*/services.py"))
    return services + EXTRA_MODULES


def public_functions():
    found = set()
    for name in operation_modules():
        module = importlib.import_module(name)
        found |= {f"{name}.{attr}" for attr, value in vars(module).items()
                  if inspect.isfunction(value) and value.__module__ == name and not attr.startswith("_")}
    return found


def _today(w):
    return local_today()


# --- the operations: name → call(world, actor) ---------------------------------------------------------------

WRITERS = {
    "app.billing.services.record_payment": lambda w, a: w.fn(a, w.client, amount="12.90", currency="EUR"),
    "app.billing.services.reverse_payment": lambda w, a: w.fn(a, w.payment, "Грешен клиент"),
    "app.billing.charges.add_manual_charge":
        lambda w, a: w.fn(a, w.client, description="Ремонт", amount="5.00", currency="EUR"),
    "app.billing.charges.cancel_charge": lambda w, a: w.fn(a, w.charge, "По грешка"),
    "app.billing.opening.carry_debt": lambda w, a: w.fn(a, w.client, "5.00", _today(w)),
    "app.billing.opening.change_debt": lambda w, a: w.fn(a, w.charge, "6.00"),
    "app.billing.opening.cancel_debt": lambda w, a: w.fn(a, w.charge, "Поправено салдо"),
    "app.billing.opening.carry_credit": lambda w, a: w.fn(a, w.client, "5.00", _today(w), "внос от x.csv, ред 2"),
    "app.billing.opening.withdraw_credit": lambda w, a: w.fn(a, w.payment, "внос от x.csv, ред 2"),
    "app.billing.opening.record_past_payment":
        lambda w, a: w.fn(a, w.client, "5.00", _today(w), "внос от x.csv, ред 2"),
    "app.billing.freeze.freeze_subscription":
        lambda w, a: w.fn(a, w.subscription, starts_on=_today(w) + timedelta(days=1),
                          ends_on=_today(w) + timedelta(days=5), reason="На море"),
    "app.billing.freeze.end_freeze_early": lambda w, a: w.fn(a, w.freeze, back_on=w.freeze.starts_on),
    "app.cashdesk.services.close_day": lambda w, a: w.fn(a, a, _today(w) - timedelta(days=1)),
    "app.catalog.services.update_service": lambda w, a: w.fn(a, w.service, name="Интернет 200"),
    "app.clients.services.create_client": lambda w, a: w.fn(a, name="Нов Клиент", kind="individual"),
    "app.clients.services.new_client": lambda w, a: w.fn(a, name="Нов Клиент", kind="individual"),
    "app.clients.services.update_client": lambda w, a: w.fn(a, w.client, name="Друго Име"),
    "app.clients.subscriptions.sell_subscription": lambda w, a: w.fn(a, w.client, w.service),
    "app.clients.subscriptions.activate_on_chosen_day": lambda w, a: w.fn(a, _today(w)),
    "app.clients.subscriptions.change_technical_parameters":
        lambda w, a: w.fn(a, w.subscription, username="nov-abonat"),
    "app.clients.subscriptions.change_status": lambda w, a: w.fn(a, w.subscription, "suspended", "Неплатена"),
    "app.clients.subscriptions.change_status_by_hand":
        lambda w, a: w.fn(a, w.subscription, "suspended", "Неплатена"),
    "app.clients.subscriptions.change_status_as_consequence":
        lambda w, a: w.fn(a, w.subscription, "suspended", "Неплатена", right=ADD_SUBSCRIPTIONS),
    "app.collectors.services.create_collector":
        lambda w, a: w.fn(a, name="EasyPay", code="easypay", method=payment_method("epay"),
                          allowed_addresses="203.0.113.0/24", secret="", active=True),
    "app.collectors.services.update_collector": lambda w, a: w.fn(a, w.collector, name="Друг колектор"),
    "app.contracts.services.create_contract":
        lambda w, a: w.fn(a, client=w.client, contract_type=w.contract.contract_type),
    "app.contracts.services.update_contract": lambda w, a: w.fn(a, w.contract, term_months=24),
    "app.dealers.services.save_head_office": lambda w, a: w.fn(a, {"company_name": "Друга ЕООД", "eik": "175074752", "vat_registered": False,
                                                     "company_address": "гр. София, ул. „Първа“ 1"}),
    "app.epay.services.save_settings":
        lambda w, a: w.fn(a, {"kin": "D476235845", "secret": "", "environment": "demo", "valid_hours": 72}),
    "app.epay.services.start_online_payment": lambda w, a: w.fn(a, w.client, "12.90"),
    "app.epay.services.easypay_code": lambda w, a: _with_reg_bill(w.fn, a, w.client, "12.90"),
    "app.freeftp.services.save_settings": lambda w, a: w.fn(a, {"enabled": False, "max_sessions": 2, "home_quota_mb": 1024}),
    "app.freeftp.services.set_account_active": lambda w, a: w.fn(a, w.ftp_account, False),
    "app.freeftp.services.send_password_reset": lambda w, a: w.fn(a, w.ftp_account),
    "app.imports.services.import_rows":
        lambda w, a: w.fn(a, "clients", "klienti.csv", [(2, {"source_key": "7", "name": "Мария Иванова"})],
                          {"rows": [], "totals": dict.fromkeys(("created", "changed", "unchanged", "refused"), 0)},
                          dry_run=False),
    "app.imports.services.import_file":
        lambda w, a: w.fn(a, "Име;ЕГН\nМария Иванова;7501020018\n".encode("utf-8"), "klienti.csv", "clients",
                          dry_run=False),
    "app.invoices.services.issue_invoice": lambda w, a: w.fn(a, w.payment),
    "app.invoices.services.credit_note_for_reversal": lambda w, a: w.fn(a, w.invoiced_payment, w.payment),
    "app.notifications.templates.save": lambda w, a: w.fn(a, w.mail_kind, "Тема", "Текст"),
    "app.notifications.templates.reset": lambda w, a: w.fn(a, w.mail_kind),
    "app.organizer.services.create_task": lambda w, a: w.fn(a, task_type=w.task.task_type, client=w.client),
    "app.organizer.services.update_task": lambda w, a: w.fn(a, w.task, description="Друго"),
    "app.organizer.services.mark_step": lambda w, a: w.fn(a, w.task.steps[0], "done"),
    "app.organizer.services.close_task": lambda w, a: w.fn(a, w.task),
    "app.organizer.services.cancel_task": lambda w, a: w.fn(a, w.task, "Клиентът се отказа"),
    "app.organizer.services.open_installation_task": lambda w, a: w.fn(a, w.subscription),
    "app.organizer.services.report_fault": lambda w, a: w.fn(a, w.client, "Няма интернет"),
    "app.organizer.services.plan_task":
        lambda w, a: w.fn(a, w.task, technician=w.colleague, day=_today(w) + timedelta(days=1)),
    "app.portal.services.send_access": lambda w, a: w.fn(a, w.client),
    "app.portal.services.book_freeze":
        lambda w, a: w.fn(a, w.client, w.subscription, starts_on=_today(w) + timedelta(days=20),
                          ends_on=_today(w) + timedelta(days=22), reason="На море"),
    "app.portal.services.report_fault": lambda w, a: w.fn(a, w.client, w.subscription, "Няма интернет"),
    "app.portal.services.change_contacts":
        lambda w, a: w.fn(a, w.client, phone="0899 111 222", email="ivan-nov@example.bg"),
    "app.protection.services.add_allowed_address": lambda w, a: w.fn(a, network="10.0.0.0/8"),
    "app.protection.services.update_allowed_address": lambda w, a: w.fn(a, w.allowed, comment="склад"),
    "app.protection.services.delete_allowed_address": lambda w, a: w.fn(a, w.allowed),
    "app.reports.exports.start_export": lambda w, a: w.fn(a, "report:revenue", "csv"),
    "app.security.services.create_operator":
        lambda w, a: w.fn(a, username="novo", password="novo-pass-12345", first_name="Нов", last_name="Оператор",
                          email="novo@example.bg", active=True, roles=list(w.colleague.roles)),
    "app.security.services.update_operator": lambda w, a: w.fn(a, w.colleague, first_name="Друго"),
    "app.security.services.delete_operator": lambda w, a: w.fn(a, w.colleague),
    "app.security.two_factor.issue_enrolment_link": lambda w, a: w.fn(a, w.colleague),
    "app.security.two_factor.reset_second_factor": lambda w, a: w.fn(a, w.colleague),
}

# Operations no operator holds the right to, done by a system actor: the administrator's run calls them as it.
SYSTEM_ONLY = {"app.clients.subscriptions.activate_on_chosen_day": lambda: cycle_actor(1)}

READ_LOGS = {
    "app.clients.services.record_personal_data_read": lambda w, a: w.fn(a, w.client),
    "app.clients.subscriptions.record_password_read": lambda w, a: w.fn(a, w.subscription),
    "app.radius.services.record_secret_read": lambda w, a: w.fn(a, w.nas),
}

STEP = "a step inside an operation that checked its own right and scope first"
NOT_OPERATIONS = {
    "app.audit.services.record_event": "the LOG itself: each operation writes its entry with its actor",
    "app.audit.services.record_security_event": "the LOG of a refusal (a login, the protection list)",
    "app.imports.services.judge": STEP + " (import_rows, import_ubilling: a row of an import)",
    "app.billing.charges.add_charge": STEP + " (the cycle's traffic fee, a sale's installation fee)",
    "app.billing.charges.add_installation_charge": STEP + " (subscription_sold: the sale)",
    "app.billing.charges.cancel_sale_charges": STEP + " (subscription_status_changed: the status change)",
    "app.clients.services.clear_other_type_fields": STEP + " (create_client, update_client; in memory)",
    "app.clients.subscriptions.announce_status_change": STEP + " (change_status; the cycle's set-based changes)",
    "app.collectors.services.complete_collector": STEP + " (create_collector, update_collector; in memory)",
    "app.collectors.services.answer_init": "the collectors' protocol: authenticated by its signature and address, "
                                           "every call on record; payments as the collector's named actor",
    "app.collectors.services.answer_confirm": "the collectors' protocol (as answer_init)",
    "app.epay.services.answer_notification": "ePay.bg's notification: authenticated by its CHECKSUM, every call on "
                                             "record; payments as the named actor ePay.bg",
    "app.epay.services.expire_abandoned_requests": "periodic housekeeping job: marks requests past their expiry",
    "app.contracts.services.ensure_default_contract_type": "set-up: the first contract type (demo, migration)",
    "app.freeftp.services.register": "the public FTP page: anybody, limited per address (record_attempt)",
    "app.freeftp.services.confirm_registration": "the public FTP page: authenticated by the e-mailed link",
    "app.freeftp.services.request_password_reset": "the public FTP page: the link goes to the account's e-mail",
    "app.freeftp.services.set_new_password": "the public FTP page: authenticated by the e-mailed link",
    "app.freeftp.services.record_attempt": "the public FTP page's counter of attempts per address",
    "app.freeftp.services.note_login": "the FTP server's counters, after the account's own password",
    "app.freeftp.services.note_download": "the FTP server's counters, after the account's own password",
    "app.organizer.services.bind_installed_mac": STEP + " (mark_step: the MAC step done by who works on the task)",
    "app.networks.services.allocate": STEP + " (sell_subscription)",
    "app.networks.services.allocate_address": STEP + " (sell_subscription with the addresses it had elsewhere)",
    "app.networks.services.release": STEP + " (change_status: termination)",
    "app.networks.ipv6.allocate_prefixes": STEP + " (sell_subscription)",
    "app.networks.ipv6.release_prefixes": STEP + " (change_status: termination)",
    "app.networks.ipv6.give_service_prefixes": STEP + " (update_service, through service_ipv6_changed)",
    "app.clients.subscriptions.give_service_prefixes": "service_ipv6_changed's receiver: a step of update_service, "
                                                       "which checks the right",
    "app.notifications.services.queue_mail": STEP + " (the outbox of an operation's message)",
    "app.notifications.services.queue_mails": STEP + " (the outbox of the cycle's warnings)",
    "app.portal.services.log_in": "the subscriber's own login, authenticated by the portal password",
    "app.portal.services.end_sessions": "the subscriber's own logout",
    "app.portal.services.refuse_too_many": "the portal's limit: the LOG of a refusal",
    "app.portal.services.request_link": "the public portal page: the link goes to the client's e-mail on record",
    "app.portal.services.set_password_by_link": "the public portal page: authenticated by the e-mailed link",
    "app.portal.services.change_password": "the subscriber's own password, after the current one",
    "app.portal.services.demo_password": "the demo data (flask demo seed), never in production",
    "app.portal.services.start_garden_payment": "the walled garden's page: the subscriber of the address's live "
                                                "RADIUS session, as their own actor (start_online_payment checks it)",
    "app.protection.services.clear": "the server's console (flask protection clear): whoever has its shell",
    "app.radius.services.keep_secret_unless_typed": STEP + " (the NAS form's save; in memory)",
    "app.reports.exports.write_export": "the job start_export queued for its actor, after its check",
    "app.reports.exports.cleanup_exports": "housekeeping job: deletes expired export files",
    "app.security.services.init_roles": "set-up (flask security init-roles): the built-in roles",
    "app.security.services.ensure_operator": "set-up (flask security create-admin): the first administrator",
    "app.security.two_factor.accept_code": "the operator's own login, after their password",
    "app.security.two_factor.enrol": "the operator's own enrolment, authenticated by the e-mailed link",
    "app.security.two_factor.login_state": STEP + " (the login's second factor; one row per operator)",
    **{f"app.demo.services.{name}": "the demo data (flask demo seed), never in production"
       for name in ("seed_billing", "seed_catalog", "seed_dealers", "seed_everything", "seed_freeftp", "seed_nas",
                    "seed_neighbourhoods", "seed_networks", "seed_operators", "seed_organizer", "seed_portal")},
}

READ_ONLY = {
    "app.addresses.services": "coverage neighbourhoods",
    "app.audit.services": "home_latest_entries owned_entries owned_history record_history",
    "app.billing.services": "find_by_request_key may_reverse payment_references payment_totals reversal_of",
    "app.billing.charges": "advance_total advances anchor_day client_due due_lines due_today not_reversed open_charges "
                           "payment_method payment_type period_fee_eur periods_for subscription_due",
    "app.billing.freeze": "frozen_days_in_year",
    "app.billing.opening": "debt_description moment_of",
    "app.cashdesk.services": "closing_of closing_totals day_payments day_totals desk_collectors desk_day "
                             "desk_operators home_takings reachable_operator sees_all_desks totals_difference "
                             "visible_desk",
    "app.catalog.services": "may_sell parameter_errors service_errors stored_speed stored_values",
    "app.clients.services": "among_few capped_count card_standing client_card client_errors format_address "
                            "home_figures mask_egn phone_condition search_condition",
    "app.clients.subscriptions": "activation_day_errors may_change_status may_read_password sale_errors",
    "app.collectors.services": "address_allowed answer_text check_code check_secret collector_actor "
                               "normalise_addresses parse_cents signature check_merchant_id check_protocol",
    "app.contracts.services": "contract_errors contract_html contract_pdf contract_title contract_type_errors",
    "app.dealers.services": "company_of dealer_errors head_office head_office_errors",
    "app.demo.services": "demo_eik demo_iban",
    "app.epay.services": "checksum current_settings encode epay_actor format_amount format_expiry "
                         "may_start_online_payment parse_line settings_errors easypay_url valid_easypay_codes",
    "app.freeftp.services": "account_may_log_in address_may_register check_account_password check_password_link "
                            "current_settings email_matches_pattern fold is_clients_email parse_networks "
                            "rate_limit_message search_words settings_errors",
    "app.imports.services": "may_import new_report note_row origin_of refused_rows_file template_rows",
    "app.invoices.services": "invoice_for issuer_details issuer_key may_invoice place_of_issue split_vat",
    "app.networks.services": "address_listing address_page find_in_network first_free_address holder_visible "
                             "matching_networks network_errors normalize_mac parse_cidr",
    "app.networks.ipv6": "aligned_keys inside_condition prefix_keys "
                         "first_free_slot holding_condition parse_address parse_prefix pool_errors "
                         "subscriptions_holding wanted",
    "app.notifications.templates": "check edited kind_of register_kind render sources",
    "app.organizer.services": "asks_mac checked_mac may_plan technicians_for unplanned_count unplanned_tasks "
                              "day_plan may_add_tasks may_cancel_task may_change_task may_mark_steps may_report_faults may_work_on "
                              "missing_required_steps planned_technicians plans_tasks task_count_query task_list "
                              "task_type_errors task_type_step_errors type_for visible_task visible_tasks "
                              "week_load week_start works_tasks",
    "app.portal.services": "access_of check_link find_client format_speed garden_actor garden_visit initials "
                           "may_send_access overview own_contract "
                           "own_contracts own_invoice own_invoices own_payment own_payments own_subscription "
                           "own_subscriptions payable_amounts portal_card session_is_current subscriber_actor subscriber_label "
                           "notice_body_shown own_daily_traffic own_notices",
    "app.protection.services": "address_allowed allowed_networks check_list_keeps_operator_in "
                               "networks_after_change normalise_network",
    "app.radius.services": "clients_with_ipv6_session sessions_holding_ipv6 "
                           "card_radius format_bytes may_read_secret nas_errors walled_garden_subscription",
    "app.reports.services": "age_label cash_desk debtors online revenue service_movement services traffic "
                            "traffic_per_day",
    "app.reports.exports": "describe export_columns export_progress filter_pairs list_view may_export "
                           "progress_key source_title",
    "app.security.services": "grantable_roles has_history hash_password operator_errors "
                             "other_active_administrators",
    "app.security.two_factor": "enrolment_link_until has_valid_enrolment_link needs_second_factor new_secret "
                               "operator_of_enrolment_link provisioning_uri",
}


def read_only_functions():
    return {f"{module}.{name}" for module, names in READ_ONLY.items() for name in names.split()}


def test_every_public_function_is_classified(app):
    with app.app_context():
        found = public_functions()
    classified = [set(WRITERS), set(READ_LOGS), set(NOT_OPERATIONS), read_only_functions()]
    unclassified = found - set().union(*classified)
    assert not unclassified, (
        "New public functions of an operation module: put each in WRITERS (with a call that an operator "
        f"without rights must be refused), READ_LOGS, NOT_OPERATIONS (with the reason) or READ_ONLY: "
        f"{sorted(unclassified)}")
    assert set().union(*classified) - found == set(), "classified functions that no longer exist"
    for first in range(len(classified)):
        for second in range(first + 1, len(classified)):
            assert not classified[first] & classified[second], "classified twice"


# --- calling them without the right ----------------------------------------------------------------------------

class World:
    """One record of each kind the operations take, made by the administrator and committed; read again by id
    after each refused call's rollback."""

    def __init__(self, ids):
        self.ids = ids
        self.fn = None

    def __getattr__(self, name):
        if name not in self.ids:
            raise AttributeError(name)
        model, pk = self.ids[name]
        if model is None:
            return pk
        return db.session.get(model, pk)


def make_world():
    admin = head_office_cashier()
    service = make_service("Интернет 100")
    service.max_freeze_days = 30
    client = make_client(None, "Иван Петров", egn="7501020018", email="ivan@example.bg")
    subscription = make_subscription(client, service, status="active", activation_date=local_today(),
                                     paid_until=local_today() + timedelta(days=40), username="ivan", password="p4ss")
    payment = make_payment(client, admin, amount="12.90")
    company = make_client(None, "Фирма", kind="company", company_name="Фирма ООД", eik="204123454",
                          mol="Иван Иванов", company_address="гр. Варна, ул. „Морска“ 5")
    invoiced_payment = make_payment(company, admin, amount="20.00")  # a company's payment is invoiced at once
    charge = add_charge(client, "Такса", "5.00", type_code="other")
    freeze = freeze_subscription(admin, subscription, starts_on=local_today() + timedelta(days=10),
                                 ends_on=local_today() + timedelta(days=12), reason="Ваканция")
    contract = _contract_record(None, "права")
    task = _task_record(None, "права")
    fault_type()  # what a fault reported from the portal opens
    collector = PaymentCollector(code="epay", name="ePay", secret="s" * 32, allowed_addresses="203.0.113.0/24",
                                 method=payment_method("epay"), active=True)
    allowed = AllowedAddress(network="192.0.2.0/24", comment="офис")
    nas = Nas(name="NAS-права", ip_address="10.99.0.1", secret="nas-secret-1")
    ftp_account = FreeFtpAccount(username="ftpuser", password_hash="x", email="ftp@example.bg")
    epay = EpaySettings(id=1, kin="D476235845", secret="e" * 64, environment="demo", valid_hours=72)
    db.session.add_all([collector, allowed, nas, ftp_account, epay])
    db.session.commit()
    colleague = make_operator(None, "колега", "Касиер")
    security = current_app.appbuilder.sm
    security.add_role(NO_RIGHTS)
    nobody = make_operator(None, "без-права", NO_RIGHTS)
    assert not security.find_role(NO_RIGHTS).permissions
    records = {"client": client, "service": service, "subscription": subscription, "payment": payment,
               "invoiced_payment": invoiced_payment, "charge": charge, "freeze": freeze, "contract": contract,
               "task": task, "collector": collector, "allowed": allowed, "nas": nas, "ftp_account": ftp_account,
               "colleague": colleague, "nobody": nobody}
    ids = {name: (type(record), record.id) for name, record in records.items()}
    ids["mail_kind"] = (None, sorted(mail_templates.KINDS)[0])
    db.session.commit()
    return World(ids)


def row_counts():
    return {table.name: db.session.execute(sa.select(sa.func.count()).select_from(table)).scalar()
            for table in Model.metadata.sorted_tables}


def pending(session):
    return [repr(obj) for obj in [*session.new, *session.deleted]] + \
        [repr(obj) for obj in session.dirty if session.is_modified(obj)]


def function(qualified):
    module, name = qualified.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_every_writer_refuses_an_operator_without_rights_before_writing(app):
    """Each operation, called by an operator whose role holds no permission, is refused and writes nothing."""
    failures = []
    with app.app_context():
        world = make_world()
        before = row_counts()
        for qualified, call in sorted(WRITERS.items()):
            world.fn = function(qualified)
            nobody = world.nobody
            try:
                call(world, nobody)
            except REFUSALS:
                pass
            except Exception as error:  # noqa: BLE001 — reported below with the operation's name
                failures.append(f"{qualified}: {type(error).__name__}: {error}")
            else:
                failures.append(f"{qualified}: not refused")
            left = pending(db.session)
            written = {name: (count, before[name]) for name, count in row_counts().items() if count != before[name]}
            if left or written:
                failures.append(f"{qualified}: wrote before refusing: {left or written}")
            db.session.rollback()
        for qualified, call in sorted(READ_LOGS.items()):
            world.fn = function(qualified)
            call(world, world.nobody)
            written = {name: (count, before[name]) for name, count in row_counts().items() if count != before[name]}
            if pending(db.session) or written:
                failures.append(f"{qualified}: logged a read for an actor without the right: {written}")
            db.session.rollback()
    assert failures == []


def test_the_same_calls_go_through_for_the_administrator(app):
    """The arguments are plausible: the administrator (every right) gets past each operation's checks for most of
    them (reverse_payment and close_task refuse for the world's state), so a refusal above is the missing right,
    not a broken call."""
    passed, refused = [], []
    with app.app_context():
        world = make_world()
        for qualified, call in sorted(WRITERS.items()):
            world.fn = function(qualified)
            try:
                call(world, SYSTEM_ONLY[qualified]() if qualified in SYSTEM_ONLY else head_office_cashier())
            except REFUSALS as refusal:
                refused.append((qualified, str(refusal)))
            else:
                passed.append(qualified)
            db.session.rollback()
    # Some refuse the administrator for a reason of state (the task is not theirs to close…), never for a right.
    assert not [entry for entry in refused if "право" in entry[1]], refused
    assert len(passed) >= len(WRITERS) - 4, refused
