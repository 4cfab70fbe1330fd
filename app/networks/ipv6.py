"""IPv6: the pools, and the prefixes handed to subscriptions from them.

A subscription of a service with IPv6 (catalog: Service.ipv6) gets a /64
for its link from a pool of kind "link" (the Access-Accept's
Framed-IPv6-Prefix), and, when the service delegates one
(Service.ipv6_delegated_length), a /56 or /60 for the subscriber's router
from a pool of kind "delegated" carving that size (Delegated-IPv6-Prefix).
They are handed out at the sale beside the IPv4 addresses, kept by the
subscription (every login gets the same ones) and given back at its
termination.

Never the same prefix twice, as with IPv4 (app.networks.services): the pool
and the prefix's place in it (slot) are unique in the database, and an
allocation first locks the rows of the pools it draws from (SELECT … FOR
UPDATE, in id order), so a second allocation from the same pools waits for
the first to commit and then sees its prefix.
"""
import ipaddress

from flask_babel import gettext
from sqlalchemy import BigInteger, exists, func, literal, select, union_all

from app.extensions import db
from app.networks.models import (
    DELEGATED,
    DELEGATED_LENGTHS,
    IPV6_KINDS,
    KEY_SHIFT,
    LINK,
    LINK_LENGTH,
    Ipv6Allocation,
    Ipv6Pool,
    ipv6_key,
)

# The widest pool: 2⁴⁸ prefixes at most (a /16 of /64s), far beyond any ISP's, and its slots fit BIGINT.
WIDEST_POOL = 16
SPAN = 2 ** (64 - min(DELEGATED_LENGTHS))  # the keys of the widest prefix handed out


class NoFreePrefix(Exception):
    """No IPv6 pool of the kind and size needed has a free prefix."""

    def __init__(self, kind, length):
        message = (gettext("No free IPv6 prefix: no link pool (/64) has a free one.") if kind == LINK else
                   gettext("No free IPv6 prefix: no delegated pool of /%(length)s has a free one.", length=length))
        super().__init__(message)


def parse_prefix(text):
    """(IPv6Network, None) from "2001:db8::/32", or (None, the message saying what is wrong)."""
    text = (text or "").strip()
    try:
        return ipaddress.IPv6Network(text, strict=True), None
    except ipaddress.AddressValueError:
        return None, gettext("Not an IPv6 prefix, e.g. 2001:db8:100::/40.")
    except ipaddress.NetmaskValueError:
        return None, gettext("Not an IPv6 prefix, e.g. 2001:db8:100::/40.")
    except ValueError:
        loose = ipaddress.IPv6Network(text, strict=False)
        return None, gettext("Host bits are set; did you mean %(network)s?", network=str(loose))


def pool_errors(pool):
    """What is wrong with an IPv6 pool as entered, as {field: [message]}; fills its prefix's keys."""
    errors = {}
    if pool.kind not in IPV6_KINDS:
        errors["kind"] = [gettext("A pool is for the link (/64) or delegated (/56 or /60).")]
        return errors
    if pool.kind == LINK:
        pool.assign_length = LINK_LENGTH
    elif pool.assign_length not in DELEGATED_LENGTHS:
        errors["assign_length"] = [gettext("A delegated pool hands out /56 or /60 prefixes.")]
        return errors
    network, problem = parse_prefix(pool.prefix)
    if problem:
        errors["prefix"] = [problem]
        return errors
    if not WIDEST_POOL <= network.prefixlen <= pool.assign_length:
        errors["prefix"] = [gettext("The pool must be from a /%(widest)s to a /%(length)s to hand out "
                                    "/%(length)s prefixes.", widest=WIDEST_POOL, length=pool.assign_length)]
        return errors
    pool.prefix = str(network)
    pool.first_key = ipv6_key(network.network_address)
    pool.last_key = ipv6_key(network.broadcast_address)
    overlap = db.session.scalars(select(Ipv6Pool).where(
        Ipv6Pool.first_key <= pool.last_key, Ipv6Pool.last_key >= pool.first_key,
        Ipv6Pool.id != (pool.id or 0))).first()
    if overlap is not None:
        errors["prefix"] = [gettext("Overlaps the IPv6 pool %(pool)s.", pool=str(overlap))]
    elif pool.id and _shrinks_below_allocations(pool):
        errors["prefix"] = [gettext("Prefixes handed out from this pool would fall outside it: the pool's "
                                    "prefix and size cannot change while it has them.")]
    return errors


def _shrinks_below_allocations(pool):
    """A pool with prefixes handed out keeps its prefix and size (their slots count from its start)."""
    stored = db.session.execute(select(Ipv6Pool.prefix, Ipv6Pool.assign_length).where(Ipv6Pool.id == pool.id)).first()
    if stored is None or (stored.prefix, stored.assign_length) == (pool.prefix, pool.assign_length):
        return False
    return db.session.scalar(select(Ipv6Allocation.id).where(Ipv6Allocation.pool_id == pool.id).limit(1)) is not None


def wanted(service):
    """[(kind, length)] of the prefixes a subscription of `service` gets."""
    if service is None or not getattr(service, "ipv6", False):
        return []
    found = [(LINK, LINK_LENGTH)]
    if service.ipv6_delegated_length:
        found.append((DELEGATED, service.ipv6_delegated_length))
    return found


def allocate_prefixes(service, subscription_id):
    """Hands the subscription the IPv6 prefixes its service gives (none it has already): [Ipv6Allocation].
    Flushes, never commits: the caller's transaction holds the pools' locks until it ends. Raises NoFreePrefix.

    The service's IPv6 is read as committed, under a share lock on its row: an edit of the service that changes
    its IPv6 (give_service_prefixes, in the edit's transaction) waits for this sale to commit and then sees its
    subscription, or this sale waits for the edit and reads the new sizes. Sales do not wait for each other."""
    held = {kind for kind, in db.session.execute(
        select(Ipv6Allocation.kind).where(Ipv6Allocation.subscription_id == subscription_id))}
    allocations = []
    for kind, length in wanted(_committed_ipv6(service)):
        if kind not in held:
            allocations.append(_allocate_one(kind, length, subscription_id))
    return allocations


def _committed_ipv6(service):
    """The service's IPv6 settings read under a share lock on its row (SQLite: one writer, no lock needed)."""
    if service is None or getattr(service, "id", None) is None:
        return service
    model = type(service)
    row = db.session.execute(select(model.ipv6, model.ipv6_delegated_length).where(model.id == service.id)
                             .with_for_update(read=True)).first()
    return row if row is not None else service


def give_service_prefixes(service, holders):
    """Brings the prefixes of the subscriptions `holders` (a SELECT of their ids: a service's subscriptions not
    terminated) to what `service` gives now, in the current transaction: those lacking the link's /64 or the
    delegated prefix get it, a delegated prefix of the other size is exchanged, and what the service no longer
    gives is given back. Returns (how many got prefixes, how many gave some back). Flushes; raises
    NoFreePrefix (and the caller's transaction is to be rolled back).

    The same safety as a sale's: the pools of each kind are locked (id order, link before delegated, as a sale
    locks them) before the subscriptions lacking a prefix are read, and the pool and slot are unique. Handed
    out in bulk: one read of each pool's highest slot, the prefixes above it in order, one flush."""
    now = dict(wanted(service))
    dropped = Ipv6Allocation.kind.not_in(list(now))
    if DELEGATED in now:  # a delegated prefix of the other size
        dropped = dropped | ((Ipv6Allocation.kind == DELEGATED) & (Ipv6Pool.assign_length != now[DELEGATED]))
    stale = db.session.scalars(select(Ipv6Allocation).join(Ipv6Pool, Ipv6Pool.id == Ipv6Allocation.pool_id)
                               .where(Ipv6Allocation.subscription_id.in_(holders), dropped)
                               .order_by(Ipv6Allocation.id)).all()
    gave_back = {allocation.subscription_id for allocation in stale}
    release_prefixes(stale)
    given = set()
    for kind, length in wanted(service):
        _lock_pools(kind, length)  # before reading who lacks one: a sale committing meanwhile is seen
        for allocation in _allocate_many(kind, length, _lacking(holders, kind)):
            given.add(allocation.subscription_id)
    return len(given), len(gave_back - given)


def _lacking(holders, kind):
    """The ids among `holders` with no prefix of this kind, in order."""
    ids = holders.subquery()
    column = list(ids.c)[0]
    return db.session.scalars(select(column).where(~exists().where(
        Ipv6Allocation.subscription_id == column, Ipv6Allocation.kind == kind)).order_by(column)).all()


def _lock_pools(kind, length):
    """The pools of this kind and size, their rows locked in id order until the transaction ends."""
    pools = db.session.scalars(select(Ipv6Pool).where(Ipv6Pool.kind == kind, Ipv6Pool.assign_length == length)
                               .order_by(Ipv6Pool.id)).all()
    if pools:  # SQLite has one writer and ignores FOR UPDATE
        db.session.execute(select(Ipv6Pool.id).where(Ipv6Pool.id.in_([pool.id for pool in pools]))
                           .order_by(Ipv6Pool.id).with_for_update())
    return pools


def _allocate_many(kind, length, subscription_ids):
    """Prefixes of this kind and size for each of the subscriptions, the pools locked: above each pool's highest
    slot first, in order; once every top is used up, the gaps one by one (_allocate_one)."""
    remaining = list(subscription_ids)
    allocations = []
    for pool in _lock_pools(kind, length) if remaining else ():
        highest = db.session.scalar(select(func.max(Ipv6Allocation.slot)).where(Ipv6Allocation.pool_id == pool.id))
        start = 0 if highest is None else highest + 1
        count = max(min(len(remaining), pool.size - start), 0)
        for offset, subscription_id in enumerate(remaining[:count]):
            network = ipaddress.IPv6Network(pool.prefix_at(start + offset))
            allocations.append(Ipv6Allocation(
                pool_id=pool.id, slot=start + offset, kind=kind, prefix=str(network),
                first_key=ipv6_key(network.network_address), last_key=ipv6_key(network.broadcast_address),
                subscription_id=subscription_id))
        remaining = remaining[count:]
        if not remaining:
            break
    db.session.add_all(allocations)
    db.session.flush()
    allocations.extend(_allocate_one(kind, length, subscription_id) for subscription_id in remaining)
    return allocations


def _allocate_one(kind, length, subscription_id):
    pools = db.session.scalars(select(Ipv6Pool).where(Ipv6Pool.kind == kind, Ipv6Pool.assign_length == length)
                               .order_by(Ipv6Pool.id)).all()
    ids = [pool.id for pool in pools]
    if ids:  # row locks in id order (SQLite has one writer and ignores FOR UPDATE)
        db.session.execute(select(Ipv6Pool.id).where(Ipv6Pool.id.in_(ids)).order_by(Ipv6Pool.id).with_for_update())
    for pool in pools:
        slot = first_free_slot(pool)
        if slot is None:
            continue
        network = ipaddress.IPv6Network(pool.prefix_at(slot))
        allocation = Ipv6Allocation(pool_id=pool.id, slot=slot, kind=kind, prefix=str(network),
                                    first_key=ipv6_key(network.network_address),
                                    last_key=ipv6_key(network.broadcast_address), subscription_id=subscription_id)
        db.session.add(allocation)
        db.session.flush()
        return allocation
    raise NoFreePrefix(kind, length)


def first_free_slot(pool):
    """The lowest free slot of a pool, or None when it is full."""
    last = pool.size - 1
    highest = db.session.scalar(select(func.max(Ipv6Allocation.slot)).where(Ipv6Allocation.pool_id == pool.id))
    if highest is None:
        return 0
    if highest < last:
        return highest + 1  # the usual case: handed out in order
    # The top is used up: the lowest gap (a prefix given back).
    taken = Ipv6Allocation.__table__.alias("taken")
    starts = union_all(
        select((Ipv6Allocation.slot + 1).label("slot")).where(Ipv6Allocation.pool_id == pool.id),
        select(literal(0, BigInteger).label("slot")),
    ).subquery()
    return db.session.scalar(select(func.min(starts.c.slot)).where(
        starts.c.slot <= last,
        ~exists().where(taken.c.pool_id == pool.id, taken.c.slot == starts.c.slot)))


def release_prefixes(allocations):
    """Gives prefixes back (a subscription terminated). Flushes."""
    for allocation in allocations:
        db.session.delete(allocation)
    db.session.flush()


def parse_address(text):
    """The IPv6 address (or prefix: its first address) typed in a search, or None when it is not one."""
    text = (text or "").strip()
    if ":" not in text:
        return None
    try:
        return ipaddress.IPv6Network(text, strict=False).network_address if "/" in text else \
            ipaddress.IPv6Address(text)
    except ValueError:
        return None


def holding_condition(address):
    """SQL condition on Ipv6Allocation: the prefix holds this IPv6 address. Prefixes never overlap and the widest
    handed out (/56) spans SPAN keys, so the index on first_key reads at most that narrow range."""
    key = ipv6_key(address)
    return Ipv6Allocation.first_key.between(key - SPAN + 1, key) & (Ipv6Allocation.last_key >= key)


def subscriptions_holding(address):
    """SQL: the ids of the subscriptions whose prefix holds this IPv6 address."""
    return select(Ipv6Allocation.subscription_id).where(holding_condition(address),
                                                        Ipv6Allocation.subscription_id.is_not(None))


def prefix_keys(text):
    """(first key, last key) of an IPv6 prefix or address as a NAS reports it ("2001:db8:1:2::/64",
    "2001:db8:1:2::5"): the range of the /64s it spans (an address, or a prefix longer than a /64, spans its
    /64's one key). None when the text is not one."""
    text = (text or "").strip()
    if not text or ":" not in text:
        return None
    try:
        network = ipaddress.IPv6Network(text, strict=False)
    except ValueError:
        return None
    return ipv6_key(network.network_address), ipv6_key(network.broadcast_address)


def aligned_keys(address):
    """The first keys a prefix (of at most /64) holding this address can have: one per prefix length, /0 to /64."""
    upper = int(address) >> 64
    return sorted({((upper >> (64 - length)) << (64 - length)) - KEY_SHIFT for length in range(65)})


def inside_condition(first_key, last_key, address):
    """SQL condition: the prefix stored as the range of keys [first_key, last_key] holds this IPv6 address.

    A prefix starts at a key aligned to its length, so it can only start at one of aligned_keys(address): the
    index on first_key is probed once per length (65 at most) and the rows found are checked against last_key.
    No scan, whatever the prefixes' lengths, on PostgreSQL and SQLite alike; exact to the /64 (an address
    reported alone stands for its /64, the subscriber's link)."""
    return first_key.in_(aligned_keys(address)) & (last_key >= ipv6_key(address))
