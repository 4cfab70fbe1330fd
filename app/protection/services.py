"""Rules of the protection list.

An empty list (the state after installation) lets every address in. Once
it has entries, only requests from an address inside one of them reach the
panel, the login page and the REST API.
"""
import ipaddress

from flask_babel import gettext

from app.core.actors import current_remote_addr
from app.core.errors import FieldErrors
from app.core.validators import InvalidValue
from app.extensions import db
from app.protection.models import AllowedAddress
from app.security.rights import may_access

FIELDS = ("network", "comment")


def normalise_network(value):
    """"192.168.1.0/24" or a single address ("10.0.0.5" → "10.0.0.5/32")."""
    text = (value or "").strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidValue(
                gettext("Not an IP address or network, e.g. 192.168.1.10 or 192.168.1.0/24.")
            ) from None
        raise InvalidValue(
            gettext("Host bits are set; did you mean %(network)s?", network=str(loose))
        ) from None
    return str(network)


def allowed_networks():
    return [ipaddress.ip_network(row) for row in db.session.scalars(db.select(AllowedAddress.network))]


def address_allowed(address, networks=None):
    """True when `address` may use the panel under the given (or stored) list."""
    networks = allowed_networks() if networks is None else networks
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == network.version and ip in network for network in networks)


def check_list_keeps_operator_in(networks_after, operator_address):
    """Refuse a change that would shut out the operator making it."""
    parsed = [ipaddress.ip_network(network) for network in networks_after]
    if not address_allowed(operator_address, parsed):
        raise FieldErrors(
            {
                "network": [
                    gettext(
                        "This change would lock you out: your address %(address)s would not be "
                        "in the list.",
                        address=operator_address,
                    )
                ]
            }
        )


def networks_after_change(changed=None, removed=None):
    """The list as it will be after saving `changed` or deleting `removed`."""
    rows = db.session.scalars(db.select(AllowedAddress)).all()
    networks = {row.id: row.network for row in rows}
    if removed is not None:
        networks.pop(removed.id, None)
    if changed is not None:
        networks[changed.id or "new"] = changed.network
    return list(networks.values())


def _refuse_without(actor, permission):
    if not may_access(actor, permission, "AllowedAddress"):
        raise FieldErrors({"network": [gettext("You do not have the right to change the protection list.")]})


def _store(actor, record, values, operator_address):
    unknown = set(values) - set(FIELDS)
    if unknown:
        raise FieldErrors({name: [gettext("This field cannot be changed here.")] for name in unknown})
    with db.session.no_autoflush:
        for name, value in values.items():
            setattr(record, name, value)
        try:
            record.network = normalise_network(record.network)
        except InvalidValue as error:
            raise FieldErrors({"network": [str(error.message)]}) from None
        if operator_address is not None:
            check_list_keeps_operator_in(networks_after_change(changed=record), operator_address)
    db.session.add(record)
    db.session.flush()
    return record


def add_allowed_address(actor, *, operator_address=None, **values):
    """A new address or network on the list: the "add" permission of the list; refused when it would shut
    out the operator making it (`operator_address`, default: the request's). Flushes; FieldErrors."""
    _refuse_without(actor, "can_add")
    return _store(actor, AllowedAddress(), values, operator_address or current_remote_addr())


def update_allowed_address(actor, record, *, operator_address=None, **values):
    """A changed entry of the list, under the same rules as a new one. Flushes; FieldErrors."""
    _refuse_without(actor, "can_edit")
    return _store(actor, record, values, operator_address or current_remote_addr())


def delete_allowed_address(actor, record, *, operator_address=None):
    """An entry taken off the list, unless that shuts out the operator taking it off. Flushes; FieldErrors."""
    _refuse_without(actor, "can_delete")
    operator_address = operator_address or current_remote_addr()
    if operator_address is not None:
        check_list_keeps_operator_in(networks_after_change(removed=record), operator_address)
    db.session.delete(record)
    db.session.flush()


def clear():
    """Empty the list (server console): every address may use the panel again."""
    removed = db.session.query(AllowedAddress).delete()
    db.session.flush()
    return removed
