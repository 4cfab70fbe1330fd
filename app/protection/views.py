from flask_babel import lazy_gettext as _l

from app.core.menu import in_menu
from app.audit.formatting import register_entity
from app.core.validators import FieldCheck
from app.core.views import BillingInterface, BillingModelView, RecordOperations
from app.protection.models import AllowedAddress
from app.protection.services import (
    add_allowed_address,
    delete_allowed_address,
    normalise_network,
    update_allowed_address,
)

LABELS = {"network": _l("Address or network"), "comment": _l("Comment")}


class ProtectionView(BillingModelView):
    datamodel = BillingInterface(AllowedAddress)
    route_base = "/protection"
    class_permission_name = "AllowedAddress"
    list_title = _l("Protection: allowed addresses")
    list_note = _l(
        "Addresses and networks the panel may be opened from. While the list is empty "
        "it opens from anywhere; an address is added with the + button above the list.")
    show_title = _l("Allowed address")
    add_title = _l("Add allowed address")
    edit_title = _l("Edit allowed address")
    label_columns = LABELS
    list_columns = ["network", "comment"]
    search_columns = ["network", "comment"]
    add_columns = edit_columns = show_columns = ["network", "comment"]
    validators_columns = {"network": [FieldCheck(normalise_network)]}
    description_columns = {
        "network": _l(
            "A single address (192.168.1.10) or a network (192.168.1.0/24). With an empty list "
            "the panel is reachable from everywhere."
        )
    }

    operations = RecordOperations(create=add_allowed_address, update=update_allowed_address,
                                  delete=delete_allowed_address)


def register(appbuilder):
    register_entity(AllowedAddress, _l("Allowed address"), LABELS)
    appbuilder.add_view(ProtectionView, "Protection", label=_l("Protection"), icon="fa-shield",
                        **in_menu("Security"))
