"""Which NAS make gets which attribute: the speed (one attribute per make) and a service's extra parameters.

An extra parameter of a RADIUS service is an attribute of the dictionary,
sent with every Accept of its subscriptions to the NAS makes it names
(ServiceParameter.nas_makes), by default to every make that knows it: a
vendor's own attribute (Mikrotik-*, Cisco-*, ERX-* for Juniper) to that
make only, a standard one (or WISPr's, Microsoft's) to all. The speed is
the service's own fields, sent in each make's one attribute
(app.radius.auth.speed_attributes); a parameter that would send it a second
time is refused at save (`parameter_errors`, which the catalog asks
through the event service_parameter_checked) and, should the service get a
speed later, left out of the Accept (`parameters_for`). A name the
dictionary does not know is refused at save too, not dropped later.
"""
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from app.catalog.models import ServiceParameter
from app.radius import load_dictionary
from app.radius.models import CISCO, JUNIPER, MIKROTIK, OTHER, VENDORS

RADIUS_TYPE = "radius"
# A vendor's own attributes reach only its make's NAS (dictionary vendor name → make).
VENDOR_MAKES = {"Mikrotik": MIKROTIK, "Cisco": CISCO, "ERX": JUNIPER}
MAKE_CHOICES = [(MIKROTIK, "MikroTik"), (CISCO, "Cisco"), (JUNIPER, "Juniper"), (OTHER, _l("Other"))]
_dictionary = None
# Sent from each subscription's own prefixes (app.radius.auth.accept_attributes), never one value for a service.
OWN_PREFIXES = ("Framed-IPv6-Prefix", "Delegated-IPv6-Prefix")


def dictionary():
    global _dictionary
    if _dictionary is None:
        _dictionary = load_dictionary()
    return _dictionary


def makes_knowing(attribute):
    """The makes whose NAS read this attribute: its vendor's make, or all for a standard or shared one."""
    make = VENDOR_MAKES.get(attribute.vendor) if attribute.vendor else None
    return [make] if make else list(VENDORS)


def is_speed(name, value):
    """Does this attribute carry a speed, as one of those app.radius.auth.speed_attributes sends does (a MikroTik
    hotspot reads WISPr's too: a service with a speed sends none of them as a parameter)?"""
    return (name in ("Mikrotik-Rate-Limit", "WISPr-Bandwidth-Max-Up", "WISPr-Bandwidth-Max-Down")
            or name == "Cisco-AVPair" and "rate-limit" in (value or ""))


def applies_to(make, name, value, makes, has_speed):
    """Whether a service's parameter goes into an Accept for a NAS of `make`; `makes` the ones it names."""
    attribute = dictionary().attributes.get(name)
    if attribute is None:
        return False
    if make not in (ServiceParameter.split_makes(makes) or makes_knowing(attribute)):
        return False
    return not (has_speed and is_speed(name, value))


def parameters_for(make, parameters, has_speed):
    """[(name, value)] of a service's parameters [(name, value, makes)] sent to a NAS of this make."""
    return [(name, value) for name, value, makes in parameters if applies_to(make, name, value, makes, has_speed)]


def parameter_errors(parameter):
    """{field: [message]} of a RADIUS service's extra parameter that cannot be sent as it is; {} for a parameter
    of another kind of service (a mailbox's quota_mb is no attribute)."""
    service = parameter.service
    if service is None or service.username_type != RADIUS_TYPE:
        return {}
    name, value = (parameter.name or "").strip(), parameter.value or ""
    attribute = dictionary().attributes.get(name)
    if attribute is None:
        return {"name": [gettext("RADIUS knows no attribute %(name)s: write it as the dictionary does, e.g. "
                                 "Session-Timeout, Framed-Pool, Mikrotik-Address-List.", name=name)]}
    if attribute.encrypt:
        return {"name": [gettext("%(name)s is encrypted for each login: it cannot be a fixed value of a service.",
                                 name=name)]}
    if name in OWN_PREFIXES:
        return {"name": [gettext(
            "%(name)s is each subscription's own prefix, from the IPv6 pools: give the service IPv6 (and a "
            "delegated prefix) instead; Framed-IPv6-Pool names a pool of the NAS.", name=name)]}
    if attribute.type == "integer" and not (value.isdigit() and int(value) < 2 ** 32):
        return {"value": [gettext("%(name)s takes a whole number.", name=name)]}
    knowing = makes_knowing(attribute)
    named = ServiceParameter.split_makes(parameter.nas_makes)
    strangers = [make for make in named if make not in knowing]
    if strangers:
        return {"nas_makes": [gettext("%(name)s is an attribute of %(makes)s only.", name=name,
                                      makes=", ".join(str(dict(MAKE_CHOICES).get(make, make))
                                                      for make in knowing))]}
    if (service.download_kbps or service.upload_kbps) and is_speed(name, value):
        return {"name": [gettext(
            "The service's speed is sent already, to each NAS make in its own attribute: change it in the "
            "service's download and upload fields, not with %(name)s.", name=name)]}
    parameter.name = name
    return {}
