"""Demo clients at scale (`flask demo seed --clients N`), for benchmarks and demos.

Rows are written with bulk INSERTs, not through the ORM: at 100,000 clients
the change log would otherwise triple the work, and seeded demo data is not
an operator's change. Everything else (numbers, ЕГН check digits, unique
usernames and addresses) follows the same rules as data entered by hand.
"""
import random
from datetime import date, timedelta

from sqlalchemy import func, insert, select, update

from app.addresses.models import Block
from app.catalog.models import Service
from app.clients.models import Client, Subscription, name_key
from app.core.counters import Counter, next_number
from app.core.phones import phone_keys
from app.core.transaction import unit_of_work
from app.dealers.models import Dealer
from app.extensions import db
from app.networks.models import IpAllocation, Network
from app.networks.services import network_errors

FIRST_NAMES_M = ["Иван", "Георги", "Димитър", "Петър", "Николай", "Христо", "Стоян", "Тодор", "Васил", "Александър",
                 "Мартин", "Кирил", "Любомир", "Емил", "Борислав"]
FIRST_NAMES_F = ["Мария", "Елена", "Иванка", "Йорданка", "Десислава", "Гергана", "Петя", "Надежда", "Виктория",
                 "Светла", "Анелия", "Радослава", "Теодора", "Цветелина", "Милена"]
SURNAMES = ["Иванов", "Георгиев", "Димитров", "Петров", "Николов", "Христов", "Стоянов", "Тодоров", "Илиев",
            "Ангелов", "Колев", "Маринов", "Попов", "Костадинов", "Симеонов", "Младенов", "Янков", "Лазаров"]
EGN_WEIGHTS = (2, 4, 8, 5, 10, 9, 7, 3, 6)
SCALE_NETWORK = ("Абонати (демо)", "10.64.0.0/14", "10.64.0.1")
BATCH = 5000


def make_egn(rng, female):
    """A valid ЕГН for a random adult (born 1940–2005)."""
    year = rng.randint(1940, 2005)
    born = date(year, 1, 1) + timedelta(days=rng.randint(0, 364))
    month = born.month + (40 if year >= 2000 else 0)
    region = rng.randint(0, 99)
    sex_digit = rng.choice([1, 3, 5, 7, 9] if female else [0, 2, 4, 6, 8])  # even: male, odd: female
    digits = f"{year % 100:02d}{month:02d}{born.day:02d}{region:02d}{sex_digit}"
    check = sum(w * int(d) for w, d in zip(EGN_WEIGHTS, digits)) % 11 % 10
    return digits + str(check)


def seed_clients(count, seed=2026):
    """Create `count` clients with ~1.5 subscriptions each; returns (clients, subscriptions)."""
    rng = random.Random(seed)
    with unit_of_work():
        prepared = _prepare(count)
    blocks, dealers, services, network, next_address, first_number, next_client_id, next_subscription_id = prepared
    today = date.today()
    total_subscriptions = 0
    for start in range(0, count, BATCH):
        with unit_of_work():  # one batch, one commit
            total_subscriptions, next_address = _seed_batch(
                rng, start, count, prepared, total_subscriptions, next_address, today)
    with unit_of_work():
        _resync_sequences()
    return count, total_subscriptions


def _prepare(count):
    """What every batch draws from: blocks, dealers, services, the network, the first numbers and ids."""
    blocks = db.session.scalars(select(Block.id)).all()
    dealers = [None, None, None] + db.session.scalars(select(Dealer.id)).all()  # most clients: head office
    services = db.session.scalars(select(Service).where(Service.sellable.is_(True))).all()
    if not blocks or not services:
        raise RuntimeError("run `flask demo seed` without --clients first (catalog and neighbourhoods)")
    network = _scale_network()
    next_address = (db.session.scalar(select(func.max(IpAllocation.address)).where(
        IpAllocation.network_id == network.id)) or network.first_address + 1) + 1
    first_number = _reserve_numbers("client_number", count, 100001)
    next_client_id = (db.session.scalar(select(func.max(Client.id))) or 0) + 1
    next_subscription_id = (db.session.scalar(select(func.max(Subscription.id))) or 0) + 1
    return (blocks, dealers, services, network, next_address, first_number, next_client_id, next_subscription_id)


def _seed_batch(rng, start, count, prepared, total_subscriptions, next_address, today):
    """One batch of clients with their subscriptions and addresses, by bulk INSERT."""
    blocks, dealers, services, network, _address, first_number, next_client_id, next_subscription_id = prepared
    clients, subscriptions, allocations = [], [], []
    for offset in range(start, min(start + BATCH, count)):
        client_id = next_client_id + offset
        female = rng.random() < 0.5
        first = rng.choice(FIRST_NAMES_F if female else FIRST_NAMES_M)
        ending = "а" if female else ""
        name = f"{first} {rng.choice(SURNAMES)}{ending} {rng.choice(SURNAMES)}{ending}"
        phone = f"08{rng.choice('789')}{rng.randint(1000000, 9999999)}"
        clients.append({
            "id": client_id, "client_number": str(first_number + offset), "kind": "individual",
            "name": name, "search_name": name_key(name), "dealer_id": rng.choice(dealers),
            "phone": phone, "phone_digits": phone_keys(phone), "email": f"client{client_id}@example.bg",
            "egn": make_egn(rng, female), "vat_registered": False, "block_id": rng.choice(blocks),
            "entrance": rng.choice("АБВ"), "floor": str(rng.randint(1, 16)), "apartment": str(rng.randint(1, 90)),
        })
        for _ in range(1 if rng.random() < 0.5 else 2):
            service = rng.choice(services)
            subscription_id = next_subscription_id + total_subscriptions
            total_subscriptions += 1
            status = rng.choices(["active", "suspended", "pending", "terminated"], [85, 7, 3, 5])[0]
            subscriptions.append({
                "id": subscription_id, "client_id": client_id, "service_id": service.id, "status": status,
                "activation_date": today - timedelta(days=rng.randint(30, 2000)),
                "paid_until": today + timedelta(days=rng.randint(-40, 60)),
                "username": f"{first_number + offset}-{subscription_id}" if service.username_type != "none"
                else None,
                "password": f"pw{rng.randint(10**7, 10**8)}" if service.username_type != "none" else None,
                "technology_override": False,
            })
            if status != "terminated":
                for _ in range(service.ip_count):
                    allocations.append({"network_id": network.id, "address": next_address,
                                        "holder": name, "subscription_id": subscription_id})
                    next_address += 1
    if next_address > network.last_address:
        raise RuntimeError("the demo network is full; seed fewer clients")
    db.session.execute(insert(Client), clients)
    db.session.execute(insert(Subscription), subscriptions)
    if allocations:
        db.session.execute(insert(IpAllocation), allocations)
    return total_subscriptions, next_address


def _scale_network():
    name, cidr, gateway = SCALE_NETWORK
    network = db.session.scalars(select(Network).where(Network.name == name)).first()
    if network is None:
        network = Network(name=name, cidr=cidr, gateway=gateway, group="Частни (NAT)", speed_mbps=1000)
        errors = network_errors(network)
        if errors:
            raise RuntimeError(f"demo network {cidr}: {errors}")
        db.session.add(network)
        db.session.flush()
    return network


def _reserve_numbers(counter, count, first):
    """Take `count` consecutive numbers from a counter at once."""
    start = next_number(counter, first)
    db.session.execute(update(Counter).where(Counter.name == counter).values(value=start + count - 1))
    return start


def _resync_sequences():
    """Explicit ids were inserted: PostgreSQL's serial sequences must follow."""
    if db.engine.dialect.name != "postgresql":
        return
    for table in ("client", "subscription", "ip_allocation"):
        db.session.execute(
            db.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        )
