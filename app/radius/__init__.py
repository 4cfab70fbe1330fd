"""RADIUS: the NAS list, the server (logins and accounting), sessions, disconnects and CoA."""
from pyrad.dictionary import Dictionary

DICTIONARY_FILE = __file__.rsplit("/", 1)[0] + "/dictionary"


def load_dictionary():
    """The project's own dictionary (RFC 2865/2866/2869/5176 and the vendors' attributes it sends)."""
    return Dictionary(DICTIONARY_FILE)
