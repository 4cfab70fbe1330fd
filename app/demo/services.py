"""Demo data with Bulgarian names and valid identifiers. Idempotent."""
from datetime import time
from pathlib import Path

from flask import current_app
from stdnum import iban
from werkzeug.security import generate_password_hash
from stdnum.bg import vat

from app.addresses.models import Block, City, Neighbourhood, Technology
from app.catalog.models import Service, ServiceGroup, ServiceParameter
from app.contracts.services import ensure_default_contract_type
from app.core.transaction import unit_of_work
from app.dealers.models import Dealer
from app.extensions import db
from app.networks.ipv6 import allocate_prefixes, pool_errors
from app.networks.models import Ipv6Pool, Network
from app.networks.services import network_errors
from app.radius.models import Nas
from app.freeftp.indexer import index_tree
from app.freeftp.models import FreeFtpAccount, FreeFtpSettings
from app.billing.charges import add_charge
from app.billing.models import CurrencyRate
from app.billing.periods import FLOATING, add_months, month_end
from app.billing.services import record_payment
from app.clients.models import Client, Subscription
from app.clients.services import create_client
from app.core.actors import acting_as
from app.core.formatting import local_today
from app.organizer.models import (
    ASKS_NOTE,
    ASKS_NOTHING,
    ASKS_VALUE,
    PURPOSE_FAULT,
    PURPOSE_INSTALLATION,
    PURPOSE_OTHER,
    Task,
    TaskType,
    TaskTypeStep,
)
from app.organizer.services import create_task
from app.portal.services import access_of as portal_access_of
from app.portal.services import demo_password
from app.security.models import Operator
from app.security.services import ensure_operator

DEMO_DEALERS = [
    # name, company, first 8 digits of ЕИК, city address, bank, BIC, bank code + account
    ("Централен офис Младост", "Билинг Нет ЕООД", "20412345", "гр. София, ж.к. Младост 1, бл. 12",
     "УниКредит Булбанк", "UNCRBGSF", "UNCR70001523456789"),
    ("Дилър Люлин", "Люлин Кейбъл ООД", "13145678", "гр. София, ж.к. Люлин 5, бл. 520",
     "Банка ДСК", "STSABGSF", "STSA93000012345678"),
    ("Дилър Надежда", "Надежда Комюникейшънс ЕООД", "20598765", "гр. София, ж.к. Надежда 2, бл. 215",
     "Пощенска банка", "BPBIBGSF", "BPBI79401012345678"),
]

# username, first name, last name, role, dealer (None = head office)
DEMO_OPERATORS = [
    ("m.ivanova", "Мария", "Иванова", "Касиер", None),
    ("g.petrov", "Георги", "Петров", "Техническа поддръжка", None),
    ("s.koleva", "Светла", "Колева", "Мениджър", None),
    ("l.dimitrov", "Любомир", "Димитров", "Администратор на дилър", "Дилър Люлин"),
    ("n.todorova", "Надя", "Тодорова", "Касиер", "Дилър Люлин"),
    ("t.stoyanov", "Тодор", "Стоянов", "Техник", None),
]


def demo_eik(first8):
    return first8 + str(vat.calc_check_digit_legal(first8))


def demo_iban(bban):
    return "BG" + iban.calc_check_digits("BG00" + bban) + bban


def seed_dealers():
    """Create the demo dealers that do not exist yet; returns how many were created."""
    created = 0
    for name, company, eik8, address, bank, bic, bban in DEMO_DEALERS:
        if db.session.query(Dealer.id).filter_by(name=name).first():
            continue
        eik = demo_eik(eik8)
        db.session.add(
            Dealer(
                name=name,
                company_name=company,
                eik=eik,
                address=address,
                company_address=address,
                phone="02 " + eik[:3] + " " + eik[3:7],
                email=f"office{created + 1}@example.bg",
                mol="Иван Георгиев",
                vat_registered=True,
                vat_number="BG" + eik,
                bank_name=bank,
                bic=bic,
                iban=demo_iban(bban),
            )
        )
        created += 1
    db.session.flush()
    return created


def seed_everything(password):
    """The whole demo, each part in its own unit of work (safe to run again); returns what each part made."""
    with unit_of_work():
        made = {"dealers": seed_dealers(), "operators": seed_operators(password), "catalog": seed_catalog(),
                "blocks": seed_neighbourhoods(), "networks": seed_networks(), "nas": seed_nas()}
        ensure_default_contract_type()
    made["clients"] = seed_billing()
    made["tasks"] = seed_organizer()
    made["freeftp"] = seed_freeftp(password)
    with unit_of_work():
        made["portal"] = seed_portal()
    return made


DEMO_PORTAL_CLIENT = "Иван Петров Иванов"
DEMO_PORTAL_PASSWORD = "portal123"


def seed_portal():
    """The first demo client logs in to the subscribers' portal (/my/) with its client number and
    DEMO_PORTAL_PASSWORD, unless it has a portal password already; returns whether one was set."""
    client = db.session.query(Client).filter_by(name=DEMO_PORTAL_CLIENT).first()
    if client is None or portal_access_of(client) is not None:
        return False
    demo_password(client, DEMO_PORTAL_PASSWORD)
    return True


def seed_operators(password):
    """Demo operators of head office and of a dealer; returns the usernames created."""
    created = []
    for username, first_name, last_name, role, dealer_name in DEMO_OPERATORS:
        operator, new_password = ensure_operator(username, password, first_name, last_name, role=role)
        if new_password:
            if dealer_name:
                operator.dealer = db.session.query(Dealer).filter_by(name=dealer_name).one()
                db.session.flush()
            created.append(username)
    return created


TECHNOLOGIES = [
    ("Кабелен интернет по КТВ (DOCSIS)", "Интернет през коаксиалната мрежа на кабелната телевизия"),
    ("Интернет по LAN", "Ethernet до апартамента"),
    ("Кабелна телевизия", "Аналогова и цифрова (DVB-C) кабелна телевизия"),
    ("Оптика до дома (FTTH)", "GPON"),
]

# group → [(name, installation, monthly, month type, IPs, username type, down/up kbit/s, technology, params)]
SERVICES = {
    "Кабелен интернет": [
        ("Интернет 100 Mbps", "20.00", "12.90", "fixed", 1, "radius", (100000, 20000), "Интернет по LAN",
         {"Mikrotik-Address-List": "internet-100"}),
        ("Интернет 300 Mbps", "20.00", "17.90", "fixed", 1, "radius", (300000, 50000), "Интернет по LAN",
         {"Mikrotik-Address-List": "internet-300"}),
        ("Интернет DOCSIS 150", "30.00", "14.90", "floating", 1, "radius", (150000, 15000),
         "Кабелен интернет по КТВ (DOCSIS)", {}),
        ("Оптика 1 Gbps", "0.00", "24.90", "fixed", 1, "radius", (1000000, 500000), "Оптика до дома (FTTH)", {}),
    ],
    "Кабелна телевизия": [
        ("Кабелна телевизия Базов", "15.00", "9.90", "fixed", 0, "none", (None, None), "Кабелна телевизия", {}),
        ("Кабелна телевизия HD", "15.00", "14.90", "fixed", 0, "none", (None, None), "Кабелна телевизия", {}),
    ],
    "Пощенски кутии": [
        ("Пощенска кутия 10 GB", "0.00", "1.50", "floating", 0, "email", (None, None), None, {}),
    ],
    "FTP достъп": [
        ("FTP достъп", "0.00", "0.00", "fixed", 0, "ftp", (None, None), None, {}),
    ],
    "Наети линии": [
        ("Наета линия 100 Mbps + 8 IP", "150.00", "120.00", "fixed", 8, "none", (100000, 100000),
         "Оптика до дома (FTTH)", {}),
    ],
}

# neighbourhood → (blocks, technologies there)
NEIGHBOURHOODS = {
    "Младост 1": (["1", "12", "24", "39", "105", "106"], ["Интернет по LAN", "Кабелна телевизия",
                                                          "Кабелен интернет по КТВ (DOCSIS)"]),
    "Младост 2": (["201", "215", "237", "250"], ["Интернет по LAN", "Кабелна телевизия"]),
    "Младост 3": (["301", "325", "350"], ["Оптика до дома (FTTH)", "Кабелна телевизия"]),
    "Младост 4": (["401", "420", "445"], ["Оптика до дома (FTTH)", "Интернет по LAN"]),
    "Люлин 5": (["501", "520", "535"], ["Кабелен интернет по КТВ (DOCSIS)", "Кабелна телевизия"]),
    "Дружба 1": (["15", "35", "72"], ["Интернет по LAN", "Кабелна телевизия"]),
    "Надежда 2": (["201", "215", "230"], ["Кабелен интернет по КТВ (DOCSIS)", "Кабелна телевизия",
                                          "Интернет по LAN"]),
}

# name, CIDR, gateway, group, speed, dealer name
NETWORKS = [
    ("Публични Младост", "185.60.16.0/22", "185.60.16.1", "Публични", 1000, None),
    ("Частни Младост", "10.10.0.0/16", "10.10.0.1", "Частни (NAT)", 1000, None),
    ("Люлин", "10.20.0.0/20", "10.20.0.1", "Частни (NAT)", 1000, "Дилър Люлин"),
    ("Надежда", "10.30.0.0/20", "10.30.0.1", "Частни (NAT)", 1000, "Дилър Надежда"),
]
# IPv6 (documentation prefixes): /64s for the links, /56s delegated to the subscribers' routers.
IPV6_POOLS = [
    ("IPv6 линкове", "2001:db8:1000::/40", "link", 64),
    ("IPv6 делегирани /56", "2001:db8:8000::/36", "delegated", 56),
]
# Services that give IPv6, and the prefix they delegate.
IPV6_SERVICES = {"Интернет 300 Mbps": 56}


# A sale of these opens an installation task (app.organizer).
NEEDS_INSTALLATION = ("Кабелен интернет", "Кабелна телевизия", "Наети линии")


def seed_catalog():
    """Technologies, service groups and services priced in EUR; returns how many services were created."""
    technologies = {}
    for name, description in TECHNOLOGIES:
        technology = db.session.query(Technology).filter_by(name=name).first()
        if technology is None:
            technology = Technology(name=name, description=description)
            db.session.add(technology)
        technologies[name] = technology
    created = 0
    for group_name, services in SERVICES.items():
        group = db.session.query(ServiceGroup).filter_by(name=group_name).first() or ServiceGroup(name=group_name)
        db.session.add(group)
        for name, installation, monthly, month_type, ips, username, (down, up), technology, params in services:
            if db.session.query(Service.id).filter_by(name=name).first():
                continue
            service = Service(
                name=name, group=group, installation_fee=installation, monthly_fee=monthly, currency="EUR",
                extra_traffic_fee="0.00", month_type=month_type, warning_days=5, tolerance_days=3,
                max_freeze_days=60, ip_count=ips, username_type=username, download_kbps=down, upload_kbps=up,
                technology=technologies.get(technology), sellable=True,
                needs_installation=group_name in NEEDS_INSTALLATION,
                ipv6=name in IPV6_SERVICES, ipv6_delegated_length=IPV6_SERVICES.get(name),
            )
            service.parameters = [ServiceParameter(name=key, value=value) for key, value in params.items()]
            db.session.add(service)
            created += 1
    db.session.flush()
    return created


DEMO_NAS_SECRET = "demo-radius-secret"
DEMO_RADIUS_PASSWORD = "parola123"


def seed_nas():
    """This machine as a demo NAS, so radclient can try the RADIUS server of `make run` at once."""
    if db.session.query(Nas).filter_by(ip_address="127.0.0.1").first() is not None:
        return 0
    # With a walled garden: a suspended demo subscriber with the right password is let into the "debtors" pool.
    db.session.add(Nas(name="Демо NAS (този компютър)", ip_address="127.0.0.1", secret=DEMO_NAS_SECRET,
                       vendor="mikrotik", walled_garden_pool="debtors",
                       description="Демо: radclient на този компютър"))
    db.session.flush()
    return 1


DEMO_FTP_FILES = ("Музика/Щурците - Ще бъда там.mp3", "Музика/Bulgarian Voices - Kalimankou Denkou.flac",
                  "Филми/Време разделно (1988).mkv", "Книги/Под игото - Иван Вазов.epub", "Прочети ме.txt")


def seed_freeftp(password):
    """FREEFTP on, serving instance/ftp (a few sample files, indexed) to this machine's and the private
    networks; the demo account `demo` with the demo operators' password. Returns 1 when made, 0 when there."""
    if db.session.get(FreeFtpSettings, 1) is not None:
        return 0
    root = Path(current_app.instance_path) / "ftp"
    homes = Path(current_app.instance_path) / "ftp-homes"
    for name in DEMO_FTP_FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("Демо файл на FREEFTP\n")
    homes.mkdir(parents=True, exist_ok=True)
    with unit_of_work():
        db.session.add(FreeFtpSettings(
            id=1, enabled=True, allowed_networks="127.0.0.0/8\n10.0.0.0/8\n192.168.0.0/16", confirm_email=False,
            email_must_be_client=False, max_sessions=3, ftp_root=str(root), homes_root=str(homes),
            home_quota_mb=100, page_text="Безплатен FTP за нашите абонати: филми, музика, книги."))
        db.session.add(FreeFtpAccount(username="demo", password_hash=generate_password_hash(password),
                                      email="demo@example.bg", active=True, email_confirmed=True))
    index_tree(str(root))
    return 1


def seed_neighbourhoods():
    """Sofia's neighbourhoods with blocks and their technologies; returns how many blocks were created."""
    sofia = db.session.query(City).filter_by(name="София").first() or City(name="София")
    db.session.add(sofia)
    technologies = {t.name: t for t in db.session.query(Technology)}
    created = 0
    for name, (blocks, available) in NEIGHBOURHOODS.items():
        neighbourhood = db.session.query(Neighbourhood).filter_by(name=name).first()
        if neighbourhood is None:
            neighbourhood = Neighbourhood(city=sofia, kind="ж.к.", name=name)
            db.session.add(neighbourhood)
            db.session.flush()
        existing = {block.name for block in neighbourhood.blocks}
        for number in blocks:
            if number in existing:
                continue
            db.session.add(Block(
                neighbourhood=neighbourhood, name=number, entrances="А, Б, В",
                technologies=[technologies[t] for t in available],
            ))
            created += 1
    db.session.flush()
    return created


def seed_networks():
    """Demo IP networks, shared and per dealer, and a pair of IPv6 pools; returns how many were created."""
    created = 0
    for name, cidr, gateway, group, speed, dealer_name in NETWORKS:
        if db.session.query(Network.id).filter_by(name=name).first():
            continue
        dealer = db.session.query(Dealer).filter_by(name=dealer_name).one() if dealer_name else None
        network = Network(name=name, cidr=cidr, gateway=gateway, group=group, speed_mbps=speed, dealer=dealer)
        errors = network_errors(network)
        if errors:
            raise ValueError(f"demo network {name}: {errors}")
        db.session.add(network)
        created += 1
    for name, prefix, kind, length in IPV6_POOLS:
        if db.session.query(Ipv6Pool.id).filter_by(name=name).first():
            continue
        pool = Ipv6Pool(name=name, prefix=prefix, kind=kind, assign_length=length)
        errors = pool_errors(pool)
        if errors:
            raise ValueError(f"demo IPv6 pool {name}: {errors}")
        db.session.add(pool)
        created += 1
    db.session.flush()
    return created


# name, kind, ЕИК first 8 digits (companies), service, months unpaid, status
# name, kind, EIK's first 8 digits, service, months behind (negative: paid ahead), status, dealer, phone, address
DEMO_CLIENTS = [
    ("Иван Петров Иванов", "individual", None, "Интернет 100 Mbps", 1, "active", None, "0888 123 456",
     "гр. София, ж.к. Младост 1, бл. 12, вх. А, ет. 3, ап. 9"),
    ("Мария Георгиева Стоянова", "individual", None, "Кабелна телевизия HD", 0, "active", None, "0877 204 318",
     "гр. София, ж.к. Младост 2, бл. 241, вх. 2, ап. 41"),
    ("Стоян Колев Димитров", "individual", None, "Интернет DOCSIS 150", 2, "suspended", None, "0899 551 027",
     "гр. София, ж.к. Дружба 1, бл. 67, ет. 8, ап. 30"),
    ("Техно Сървиз ООД", "company", "20198765", "Наета линия 100 Mbps + 8 IP", 0, "active", None, "02 971 4410",
     "гр. София, бул. „Цариградско шосе“ 115"),
    ("Елена Николова Петкова", "individual", None, "Интернет 300 Mbps", -3, "active", None, "0886 730 112",
     "гр. София, ж.к. Младост 3, бл. 309, ап. 17"),
    ("Радослав Тодоров Ангелов", "individual", None, "Интернет 100 Mbps", 0, "active", "Дилър Люлин",
     "0878 415 906", "гр. София, ж.к. Люлин 5, бл. 512, вх. В, ап. 64"),
    ("Цветелина Иванова Бонева", "individual", None, "Кабелна телевизия HD", 1, "active", "Дилър Люлин",
     "0897 322 480", "гр. София, ж.к. Люлин 7, бл. 727, ап. 12"),
    ("Кирил Стефанов Марков", "individual", None, "Интернет DOCSIS 150", 3, "suspended", "Дилър Люлин",
     "0885 609 273", "гр. София, ж.к. Люлин 3, бл. 318, ет. 5, ап. 22"),
]
# Clients who paid a sum that is not whole months: the rest waits as an advance for the next period.
DEMO_ADVANCES = {"Мария Георгиева Стоянова": "20.00", "Радослав Тодоров Ангелов": "15.00"}
# The operator who enters a dealer's clients and takes their payments: the dealer's own cashier.
DEMO_DEALER_CASHIERS = {"Дилър Люлин": "n.todorova"}


def seed_billing(cashier_username="m.ivanova"):
    """Head-office and "Дилър Люлин" clients with subscriptions — current, owing, paid ahead, with an
    advance, suspended — open charges and payments; a USD rate.

    Goes through the clients' and billing operations as the demo cashiers
    (the dealer's own for its clients), so the card, cash desk, receipts and
    invoices show what a real day would. Skips clients that exist already.
    """
    today = local_today()
    with unit_of_work():
        if not db.session.query(CurrencyRate.id).filter_by(currency="USD").first():
            db.session.add(CurrencyRate(currency="USD", valid_from=today.replace(day=1), rate="1.0850"))
    cashier = db.session.query(Operator).filter_by(username=cashier_username).one()
    return _seed_clients(cashier, today)


def _seed_clients(head_office_cashier, today):
    """The DEMO_CLIENTS not there yet, each entered by its desk's cashier in a unit of work of its own (the
    LOG names one operator per transaction); returns how many."""
    created = 0
    for name, kind, eik8, service_name, months_behind, status, dealer_name, phone, address in DEMO_CLIENTS:
        if db.session.query(Client.id).filter_by(name=name).first():
            continue
        dealer, cashier = None, head_office_cashier
        if dealer_name:
            dealer = db.session.query(Dealer).filter_by(name=dealer_name).one()
            cashier = db.session.query(Operator).filter_by(username=DEMO_DEALER_CASHIERS[dealer_name]).one()
        # The LOG names the cashier as the one who entered them, as it would for a real day.
        with acting_as(cashier), unit_of_work():
            _seed_client(cashier, today, name, kind, eik8, service_name, months_behind, status, dealer, phone,
                         address)
        created += 1
    return created


def _seed_client(cashier, today, name, kind, eik8, service_name, months_behind, status, dealer, phone, address):
    """One demo client with its subscription placed as it stands today, its charge and payments."""
    fields = {"name": name, "kind": kind, "phone": phone, "address_text": address, "dealer": dealer}
    if kind == "company":
        eik = demo_eik(eik8)
        fields.update(company_name=name, eik=eik, mol="Петър Николов", company_address="гр. София, ул. „Шипка“ 5",
                      vat_registered=True, vat_number="BG" + eik)
    client = create_client(cashier, **fields)
    service = db.session.query(Service).filter_by(name=service_name).one()
    # Activated on the 15th six months ago; paid through the current period, less `months_behind`.
    start = add_months(today.replace(day=15), -6)
    if service.month_type == FLOATING:
        current = next(months for months in range(1, 8) if add_months(start, months) >= today)
        paid_until = add_months(start, current - months_behind)
    else:
        paid_until = month_end(add_months(today, -months_behind))
    # Placed as they stand today, six months after the sale: not a sale of today.
    subscription = Subscription(client=client, service=service, status=status, activation_date=start,
                                paid_until=paid_until)
    if service.username_type == "radius":  # a login to try the RADIUS server of `make run` with
        subscription.username, subscription.password = f"u{client.client_number}", DEMO_RADIUS_PASSWORD
    db.session.add(subscription)
    db.session.flush()
    allocate_prefixes(service, subscription.id)  # IPv6 where the service gives it (Интернет 300 Mbps)
    if service.installation_fee and months_behind > 0:
        add_charge(client, f"Инсталация: {service.name}", service.installation_fee, service.currency,
                   subscription=subscription, type_code="installation", operator=cashier)
    if status == "active":
        record_payment(cashier, client, periods={subscription.id: 1})
    if name in DEMO_ADVANCES:
        record_payment(cashier, client, amount=DEMO_ADVANCES[name], note="Демо: аванс")


# name, purpose, minutes, colour, [(step, required, asks, value label)]
TASK_TYPES = [
    ("Нова инсталация", PURPOSE_INSTALLATION, 90, "#5cb85c", [
        ("Прокарване на кабел до апартамента", True, ASKS_NOTHING, None),
        ("Монтаж и регистрация на модема", True, ASKS_VALUE, "MAC на модема"),
        ("Измерване на сигнала", False, ASKS_VALUE, "Ниво на сигнала, dBmV"),
        ("Проверка на скоростта", True, ASKS_NOTE, None),
        ("Подпис на клиента в протокола", True, ASKS_NOTHING, None),
    ]),
    ("Повреда", PURPOSE_FAULT, 60, "#d9534f", [
        ("Диагностика", True, ASKS_NOTE, None),
        ("Подмяна на кабел или конектор", False, ASKS_NOTHING, None),
        ("Ниво на сигнала след ремонта", False, ASKS_VALUE, "Ниво на сигнала, dBmV"),
        ("Проверка с клиента", True, ASKS_NOTHING, None),
    ]),
    ("Спиране на услуга", PURPOSE_OTHER, 30, "#777777", [
        ("Изключване от разпределителя", True, ASKS_NOTHING, None),
        ("Прибиране на модема", False, ASKS_VALUE, "MAC на модема"),
    ]),
]
# client, task type, (from, to) today, description
DEMO_TASKS = [
    ("Иван Петров Иванов", "Повреда", ("09:00", "10:00"), "Няма интернет от вчера вечерта."),
    ("Техно Сървиз ООД", "Нова инсталация", ("10:30", "12:00"), "Втори рутер в склада."),
    ("Мария Георгиева Стоянова", "Повреда", ("14:00", "15:00"), "Прекъсва телевизията."),
]


def seed_organizer(planner_username="g.petrov", technician_username="t.stoyanov"):
    """Task types with their steps, and a few tasks of today for the demo technician; returns how many tasks."""
    with unit_of_work():
        for name, purpose, minutes, colour, steps in TASK_TYPES:
            if db.session.query(TaskType.id).filter_by(name=name).first():
                continue
            db.session.add(TaskType(name=name, purpose=purpose, duration_minutes=minutes, colour=colour, steps=[
                TaskTypeStep(position=position, name=step, required=required, asks=asks, value_label=label)
                for position, (step, required, asks, label) in enumerate(steps, start=1)]))
        db.session.flush()
    if db.session.query(Task.id).first() is not None:
        return 0
    planner = db.session.query(Operator).filter_by(username=planner_username).one()
    technician = db.session.query(Operator).filter_by(username=technician_username).one()
    created = 0
    with acting_as(planner), unit_of_work():
        for client_name, type_name, (start, end), description in DEMO_TASKS:
            client = db.session.query(Client).filter_by(name=client_name).first()
            if client is None:
                continue
            create_task(planner, task_type=db.session.query(TaskType).filter_by(name=type_name).one(),
                        client=client, subscription=client.subscriptions[0] if client.subscriptions else None,
                        description=description, technicians=[technician], scheduled_on=local_today(),
                        time_from=time.fromisoformat(start), time_to=time.fromisoformat(end), check_right=False)
            created += 1
    return created
