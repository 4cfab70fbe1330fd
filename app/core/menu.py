"""The panel menu's categories, each with its label and icon given once.

FAB makes a category when the first view is added to it, with the label and
icon that view's add_view names; every module adding a view to a category
names it by `in_menu(category)`, so no module repeats (or contradicts) them.
"""
from flask_babel import lazy_gettext as _l

CATEGORIES = {
    "Clients": (_l("Clients"), "fa-users"),
    "Company": (_l("Company"), "fa-building"),
    "Catalog": (_l("Catalog"), "fa-book"),
    "Addresses": (_l("Addresses"), "fa-map-marker"),
    "Contracts": (_l("Contracts"), "fa-file-text"),
    "Organizer": (_l("Organizer"), "fa-calendar"),
    "Payments": (_l("Payments"), "fa-eur"),
    "FREEFTP": (_l("FREEFTP"), "fa-folder-open"),
    "Security": (_l("Security"), "fa-lock"),
}


def in_menu(category):
    """add_view's and add_link's keywords placing an entry in `category`, with the category's label and icon."""
    label, icon = CATEGORIES[category]
    return {"category": category, "category_label": label, "category_icon": icon}
