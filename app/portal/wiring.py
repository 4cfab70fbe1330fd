"""What the portal plugs in whatever the process (app.create_app calls init): its pages at /my/.

The portal is no FAB view: its blueprint is registered here, with the application, so the pages exist
in any application create_app builds. Its part of the client card is registered with the panel's views
(app.portal.views.register).
"""
from app.portal.pages import portal


def init(app):
    if "portal" not in app.blueprints:
        app.register_blueprint(portal)
