"""Absolute links to the product's own pages: in e-mails and on the public pages.

Built from the configured PUBLIC_BASE_URL, never from the request's Host
header: anyone can send any Host, and a link built from it would carry a
reset token to the sender's host, or put the sender's host in the public
search's links. Built without a request too (a job's e-mail).
"""
from urllib.parse import urlsplit

from flask import current_app


def public_base():
    """The configured base (scheme, host, port and path where the product is served), without a final "/"."""
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def public_url(endpoint, **values):
    """The absolute address of a page (`url_for`'s endpoint and values) under PUBLIC_BASE_URL."""
    base = urlsplit(public_base())
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def public_host():
    """The host name of PUBLIC_BASE_URL (no port): the name other services' links use by default."""
    return urlsplit(public_base()).hostname
