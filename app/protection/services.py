"""Rules of the protection list.

An empty list (the state after installation) lets every address in. Once
it has entries, only requests from an address inside one of them reach the
panel, the login page and the REST API.
"""
import ipaddress

from flask_babel import gettext

from app.core.errors import FieldErrors
from app.core.validators import InvalidValue
from app.extensions import db
from app.protection.models import AllowedAddress


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


def clear():
    """Empty the list (server console): every address may use the panel again."""
    removed = db.session.query(AllowedAddress).delete()
    db.session.flush()
    return removed
