"""Networks: validation, usage, and the one IP allocation service.

Allocation never hands out the network, broadcast or gateway address, and
never the same address twice. Two things in the database make sure of it:
ip_allocation.address is unique, and an allocation first locks the rows of
the networks it draws from (SELECT … FOR UPDATE, in id order, so two
allocators never deadlock). A second allocation from the same networks
waits for the first to commit and then sees its addresses. No savepoint is
needed, so the change log (Continuum) sees plain inserts. N addresses are
taken all or none: the free count is checked under the lock first.
"""
import ipaddress

from flask_babel import gettext
from sqlalchemy import BigInteger, and_, exists, func, literal, or_, select, true, union_all

from sqlalchemy.orm import defer

from app.core import like
from app.core.scoping import dealer_of
from app.extensions import db
from app.networks.models import IpAllocation, Network, gateway_int, network_service, usable_count, usable_range

MAC_HEX = set("0123456789abcdef")


def normalize_mac(text):
    """A MAC address as NASes write it — "aa:bb:cc:dd:ee:ff", "AA-BB-CC-DD-EE-FF", Cisco's "aabb.ccdd.eeff",
    or 12 bare hex digits — as "AA:BB:CC:DD:EE:FF"; None when it is none of these."""
    if not isinstance(text, str):
        return None
    digits = text.strip().lower()
    for separator in ":-.":
        digits = digits.replace(separator, "")
    if len(digits) != 12 or not set(digits) <= MAC_HEX:
        return None
    return ":".join(digits[index:index + 2] for index in range(0, 12, 2)).upper()


class NoFreeAddress(Exception):
    """No matching network has enough free addresses."""

    def __init__(self, wanted):
        super().__init__(
            gettext("No free IP address: the matching networks have fewer than %(count)s free addresses.",
                    count=wanted)
        )


def parse_cidr(text):
    """IPv4Network from "10.0.0.0/24"; InvalidValue-style errors as messages."""
    text = (text or "").strip()
    try:
        return ipaddress.IPv4Network(text, strict=True), None
    except ipaddress.AddressValueError:
        return None, gettext("Not an IPv4 network in CIDR form, e.g. 10.20.0.0/22.")
    except ipaddress.NetmaskValueError:
        return None, gettext("Not an IPv4 network in CIDR form, e.g. 10.20.0.0/22.")
    except ValueError:
        loose = ipaddress.IPv4Network(text, strict=False)
        return None, gettext("Host bits are set; did you mean %(network)s?", network=str(loose))


def network_errors(network):
    """What is wrong with a network as entered, as {field: [message]}."""
    errors = {}
    parsed, problem = parse_cidr(network.cidr)
    if problem:
        errors["cidr"] = [problem]
        return errors
    network.cidr = str(parsed)
    network.first_address = int(parsed.network_address)
    network.last_address = int(parsed.broadcast_address)
    overlap = db.session.scalars(
        select(Network).where(
            Network.first_address <= network.last_address,
            Network.last_address >= network.first_address,
            Network.id != (network.id or 0),
        )
    ).first()
    if overlap is not None:
        errors["cidr"] = [gettext("Overlaps the network %(network)s.", network=str(overlap))]
    if network.gateway:
        try:
            gateway = ipaddress.IPv4Address(network.gateway.strip())
        except ipaddress.AddressValueError:
            errors["gateway"] = [gettext("Not an IPv4 address.")]
        else:
            network.gateway = str(gateway)
            first, last = usable_range(network)
            if not first <= int(gateway) <= last:
                errors["gateway"] = [gettext("The gateway must be a usable address inside the network.")]
    return errors


def matching_networks(service=None, dealer_id=None):
    """Networks a subscription may take addresses from, best match first.

    A network serves every service unless it lists some, and every dealer
    unless it belongs to one. A dealer's own networks come before shared
    ones, and networks listing the service before general ones.
    """
    lists_services = exists().where(network_service.c.network_id == Network.id)
    query = select(Network).where(
        or_(Network.dealer_id.is_(None), Network.dealer_id == dealer_id) if dealer_id else Network.dealer_id.is_(None)
    )
    if service is not None:
        lists_this = exists().where(
            and_(network_service.c.network_id == Network.id, network_service.c.service_id == service.id)
        )
        query = query.where(or_(~lists_services, lists_this)).order_by(
            Network.dealer_id.is_(None), ~lists_this, Network.id
        )
    else:
        query = query.where(~lists_services).order_by(Network.dealer_id.is_(None), Network.id)
    # The usage count is a subquery per network; allocation does not need it.
    return db.session.scalars(query.options(defer(Network.used_count))).all()


def first_free_address(network):
    """The lowest free usable address of a network, or None when it is full."""
    first, last = usable_range(network)
    gateway = gateway_int(network)
    highest = db.session.scalar(
        select(func.max(IpAllocation.address)).where(IpAllocation.network_id == network.id)
    )
    # Common case: addresses are given out in order, the next one is free.
    candidate = first if highest is None else highest + 1
    if candidate == gateway:
        candidate += 1
    if candidate <= last:
        return candidate
    # The top is used up: look for a gap (a released address).
    taken = IpAllocation.__table__.alias("taken")
    candidates = [
        select((IpAllocation.address + 1).label("address")).where(IpAllocation.network_id == network.id),
        select(literal(first, BigInteger).label("address")),
    ]
    if gateway is not None:
        candidates.append(select(literal(gateway + 1, BigInteger).label("address")))
    starts = union_all(*candidates)
    starts = starts.subquery()
    return db.session.scalar(
        select(func.min(starts.c.address)).where(
            starts.c.address.between(first, last),
            starts.c.address != (gateway if gateway is not None else -1),
            ~exists().where(taken.c.address == starts.c.address),
        )
    )


def allocate(count, service=None, dealer_id=None, holder=None, subscription_id=None):
    """Give out `count` addresses from the matching networks, all or none.

    Flushes, never commits: the caller's transaction decides (and holds the
    networks' locks until then). Raises NoFreeAddress when the matching
    networks cannot supply them.
    """
    if count <= 0:
        return []
    networks = matching_networks(service, dealer_id)
    _lock(networks)
    free = {}
    for network in networks:  # count only as far as needed
        free[network.id] = _free_in(network)
        if sum(free.values()) >= count:
            break
    if sum(free.values()) < count:
        raise NoFreeAddress(count)
    allocations = []
    for network in networks:
        for _ in range(min(free.get(network.id, 0), count - len(allocations))):
            allocation = IpAllocation(
                network_id=network.id,
                address=first_free_address(network),
                holder=holder,
                subscription_id=subscription_id,
            )
            db.session.add(allocation)
            db.session.flush()
            allocations.append(allocation)
    return allocations


class AddressRefused(Exception):
    """A named address cannot be given: outside the networks the subscription may use, or taken."""


def allocate_address(ip, service=None, dealer_id=None, holder=None, subscription_id=None):
    """Give out this one address (a subscriber carried over from another system keeps theirs): a usable address
    of a network the subscription may draw from (matching_networks), and free. Flushes; raises AddressRefused."""
    try:
        address = int(ipaddress.IPv4Address(str(ip).strip()))
    except ValueError:
        raise AddressRefused(gettext("%(ip)s is not an IPv4 address.", ip=ip)) from None
    text = str(ipaddress.IPv4Address(address))
    network = next((network for network in matching_networks(service, dealer_id)
                    if usable_range(network)[0] <= address <= usable_range(network)[1]
                    and address != gateway_int(network)), None)
    if network is None:
        raise AddressRefused(gettext("The IP address %(ip)s is in none of the networks this service may use.",
                                     ip=text))
    _lock([network])
    if db.session.scalar(select(IpAllocation.id).where(IpAllocation.address == address)) is not None:
        raise AddressRefused(gettext("The IP address %(ip)s is taken.", ip=text))
    allocation = IpAllocation(network_id=network.id, address=address, holder=holder, subscription_id=subscription_id)
    db.session.add(allocation)
    db.session.flush()
    return allocation


def _lock(networks):
    """Row locks on the networks, in id order (no-op on SQLite, which has one writer)."""
    ids = sorted(network.id for network in networks)
    if ids:
        db.session.execute(select(Network.id).where(Network.id.in_(ids)).order_by(Network.id).with_for_update())


def _free_in(network):
    used = db.session.scalar(
        select(func.count()).select_from(IpAllocation).where(IpAllocation.network_id == network.id)
    )
    return max(usable_count(network) - used, 0)


def release(allocations):
    """Give addresses back (e.g. when a subscription is terminated). Flushes."""
    for allocation in allocations:
        db.session.delete(allocation)
    db.session.flush()


def holder_visible(actor):
    """SQL condition on IpAllocation: the actor may read who holds the address.

    Head office reads every holder. A dealer's operator reads only the
    dealer's own clients: in a shared network the other addresses are other
    dealers' clients (or head office's), shown as taken, without a name.
    """
    dealer_id = dealer_of(actor)
    return true() if dealer_id is None else IpAllocation.held_for_dealer(dealer_id)


def _with_holders(actor, rows):
    """(ip, allocation or None, role) rows as the page shows them: (ip, holder the actor may read or "", role)."""
    ids = [allocation.id for _ip, allocation, _role in rows if allocation is not None]
    readable = set(db.session.scalars(select(IpAllocation.id).where(IpAllocation.id.in_(ids),
                                                                    holder_visible(actor)))) if ids else set()
    return [(ip, (allocation.holder or "") if allocation is not None and allocation.id in readable else "", role)
            for ip, allocation, role in rows]


def address_page(network, page, per_page=256):
    """One page of the network's address map: (ip, allocation or None, role)."""
    first, last = network.first_address, network.last_address
    start = first + page * per_page
    end = min(start + per_page - 1, last)
    if start > last:
        return []
    taken = {
        allocation.address: allocation
        for allocation in db.session.scalars(
            select(IpAllocation).where(IpAllocation.address.between(start, end))
        )
    }
    gateway = gateway_int(network)
    usable_first, usable_last = usable_range(network)
    rows = []
    for address in range(start, end + 1):
        if address == gateway:
            role = "gateway"
        elif not usable_first <= address <= usable_last:
            role = "network" if address == first else "broadcast"
        else:
            role = "used" if address in taken else "free"
        rows.append((str(ipaddress.IPv4Address(address)), taken.get(address), role))
    return rows


USED, FREE = "used", "free"


def address_listing(network, actor, page=0, per_page=256, show=None):
    """One page of the network's addresses as the network page lists them for `actor`: all of them
    (address_page), only the taken ones (from the allocations, in address order) or only the free ones;
    (rows of (ip, holder the actor may read, role), pages)."""
    first, last = network.first_address, network.last_address
    if show == USED:
        condition = IpAllocation.address.between(first, last)
        count = db.session.scalar(select(func.count(IpAllocation.id)).where(condition))
        allocations = db.session.scalars(select(IpAllocation).where(condition).order_by(IpAllocation.address)
                                         .offset(page * per_page).limit(per_page)).all()
        return (_with_holders(actor, [(str(ipaddress.IPv4Address(a.address)), a, USED) for a in allocations]),
                max((count + per_page - 1) // per_page, 1))
    if show == FREE:
        usable_first, usable_last = usable_range(network)
        gateway = gateway_int(network)
        taken = set(db.session.scalars(select(IpAllocation.address).where(
            IpAllocation.address.between(usable_first, usable_last))))
        free = [address for address in range(usable_first, usable_last + 1)
                if address not in taken and address != gateway]
        rows = [(str(ipaddress.IPv4Address(address)), "", FREE)
                for address in free[page * per_page:(page + 1) * per_page]]
        return rows, max((len(free) + per_page - 1) // per_page, 1)
    return _with_holders(actor, address_page(network, page, per_page)), (last - first) // per_page + 1


def find_in_network(network, text, actor, per_page=256):
    """Where the network page's search leads: an address of the network → (its page, the address); a holder's
    name the actor may read → (None, [(ip, holder, role) of its addresses]); nothing found → (None, [])."""
    text = (text or "").strip()
    try:
        address = int(ipaddress.IPv4Address(text))
    except ValueError:
        address = None
    if address is not None:
        if network.first_address <= address <= network.last_address:
            return (address - network.first_address) // per_page, str(ipaddress.IPv4Address(address))
        return None, []
    if not text:
        return None, []
    allocations = db.session.scalars(
        select(IpAllocation).where(IpAllocation.address.between(network.first_address, network.last_address),
                                   IpAllocation.holder.ilike(like.contains(text), escape=like.ESCAPE),
                                   holder_visible(actor))
        .order_by(IpAllocation.address).limit(per_page)).all()
    return None, [(allocation.ip, allocation.holder or "", USED) for allocation in allocations]
