from flask import request
from flask_appbuilder import BaseView, expose, has_access
from flask_babel import lazy_gettext as _l
from wtforms import SelectField

from app.core.menu import in_menu
from app.addresses.models import NEIGHBOURHOOD_KINDS, Block, City, Neighbourhood, Technology
from app.addresses.services import coverage, neighbourhoods
from app.audit.formatting import register_entity
from app.core.views import BillingInterface, BillingModelView

TECHNOLOGY_LABELS = {"name": _l("Name"), "description": _l("Description")}
CITY_LABELS = {"name": _l("Name")}
NEIGHBOURHOOD_LABELS = {"city": _l("City"), "kind": _l("Kind"), "name": _l("Name"), "blocks": _l("Blocks")}
BLOCK_LABELS = {
    "neighbourhood": _l("Neighbourhood"),
    "name": _l("Block"),
    "entrances": _l("Entrances"),
    "street_address": _l("Street address"),
    "comment": _l("Comment"),
    "technologies": _l("Technologies"),
}


class TechnologyView(BillingModelView):
    datamodel = BillingInterface(Technology)
    route_base = "/technologies"
    class_permission_name = "Technology"
    list_title = _l("Technologies")
    list_note = _l(
        "The ways a service reaches a home (cable, LAN…); each block says which "
        "it has. A technology is added with the + button above the list.")
    show_title = _l("Technology")
    add_title = _l("Add technology")
    edit_title = _l("Edit technology")
    label_columns = TECHNOLOGY_LABELS
    list_columns = search_columns = add_columns = edit_columns = show_columns = ["name", "description"]


class CityView(BillingModelView):
    datamodel = BillingInterface(City)
    route_base = "/cities"
    class_permission_name = "City"
    list_title = _l("Cities")
    list_note = _l(
        "The cities whose neighbourhoods the company serves. A city "
        "is added with the + button above the list.")
    show_title = _l("City")
    add_title = _l("Add city")
    edit_title = _l("Edit city")
    label_columns = CITY_LABELS
    list_columns = search_columns = add_columns = edit_columns = show_columns = ["name"]


class BlockView(BillingModelView):
    datamodel = BillingInterface(Block)
    route_base = "/blocks"
    class_permission_name = "Block"
    list_title = _l("Blocks")
    list_note = _l(
        "The blocks of each neighbourhood with the technologies each has; a client's address is "
        "picked from them. A block is added with the + button above the list.")
    show_title = _l("Block")
    add_title = _l("Add block")
    edit_title = _l("Edit block")
    label_columns = BLOCK_LABELS
    list_columns = ["neighbourhood", "name", "entrances", "street_address", "technologies"]
    search_columns = ["neighbourhood", "name", "street_address", "technologies"]
    add_columns = edit_columns = show_columns = [
        "neighbourhood", "name", "entrances", "street_address", "comment", "technologies",
    ]
    formatters_columns = {"technologies": lambda items: ", ".join(str(t) for t in items)}
    description_columns = {"entrances": _l("E.g. А, Б, В")}


class NeighbourhoodView(BillingModelView):
    datamodel = BillingInterface(Neighbourhood)
    route_base = "/neighbourhoods"
    class_permission_name = "Neighbourhood"
    list_title = _l("Neighbourhoods")
    list_note = _l(
        "The neighbourhoods the company's network reaches; their blocks are under Addresses → "
        "Blocks. A neighbourhood is added with the + button above the list.")
    show_title = _l("Neighbourhood")
    add_title = _l("Add neighbourhood")
    edit_title = _l("Edit neighbourhood")
    label_columns = NEIGHBOURHOOD_LABELS
    related_views = [BlockView]
    list_columns = ["city", "kind", "name"]
    search_columns = ["city", "name"]
    add_columns = edit_columns = show_columns = ["city", "kind", "name"]
    add_form_extra_fields = edit_form_extra_fields = {
        "kind": SelectField(NEIGHBOURHOOD_LABELS["kind"], choices=[(k, k) for k in NEIGHBOURHOOD_KINDS]),
    }


class CoverageView(BaseView):
    """Blocks × technologies: where the company can deliver what."""

    route_base = "/neighbourhoods/coverage"
    class_permission_name = "Coverage"
    default_view = "coverage"

    @expose("/")
    @has_access
    def coverage(self):
        selected = request.args.get("neighbourhood", type=int)
        technologies, rows = coverage(selected)
        return self.render_template(
            "addresses/coverage.html",
            title=_l("Coverage"),
            technologies=technologies,
            rows=rows,
            neighbourhoods=neighbourhoods(),
            selected=selected,
        )


def register(appbuilder):
    register_entity(Technology, _l("Technology"), TECHNOLOGY_LABELS)
    register_entity(City, _l("City"), CITY_LABELS)
    register_entity(Neighbourhood, _l("Neighbourhood"), NEIGHBOURHOOD_LABELS)
    register_entity(Block, _l("Block"), BLOCK_LABELS)
    appbuilder.add_view(NeighbourhoodView, "Neighbourhoods", label=_l("Neighbourhoods"), icon="fa-map",
                        **in_menu("Addresses"))
    appbuilder.add_view(BlockView, "Blocks", label=_l("Blocks"), icon="fa-building", **in_menu("Addresses"))
    appbuilder.add_view(CoverageView, "Coverage", label=_l("Coverage"), icon="fa-th", **in_menu("Addresses"))
    appbuilder.add_view(CityView, "Cities", label=_l("Cities"), icon="fa-globe", **in_menu("Addresses"))
    appbuilder.add_view(TechnologyView, "Technologies", label=_l("Technologies"), icon="fa-plug",
                        **in_menu("Addresses"))
