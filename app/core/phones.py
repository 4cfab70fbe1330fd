"""Phone numbers as a search key: one number, however it is written, has one key.

A caller ID shows "+359 888 123 456", a form says "0888-123-456", a client
dictates "888 123 456", an old record holds "00359888123456": all of them
are the key "888123456" — the national number without the trunk "0" or
the country code. What is stored (Client.phone_digits) and what is typed
into a search box both pass through `phone_key`, so they meet whatever
form either side was written in. A number of another country keeps its
country code ("+44 20 7946 0958" → "442079460958").

The key of a number is the tail of the digits of any of its written forms,
so a part of a number ("123 456", "0888 123") still finds it as a substring.
"""
import re

BULGARIA = "359"
# With its country code and without the "+"/"00", a whole Bulgarian number has 11 or 12 digits (359 and the
# 8- or 9-digit national number): only then is a leading 359 read as the country code and not as the start
# of a local number.
WHOLE_BULGARIAN_WITH_CODE = (11, 12)


def phone_key(text):
    """The search key of one phone number as typed or stored; "" when it has no digits."""
    text = (text or "").strip()
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    elif digits.startswith(BULGARIA) and len(digits) in WHOLE_BULGARIAN_WITH_CODE:
        international = digits
    else:
        return digits.lstrip("0")
    if international.startswith(BULGARIA):
        # "+359 (0) 888…": the trunk 0 some people keep after the country code goes too.
        return international[len(BULGARIA):].lstrip("0")
    return international


def phone_keys(phones):
    """The keys of a comma-separated list of phones, space-separated (no key holds a space, so no match
    spans two numbers)."""
    return " ".join(key for key in (phone_key(part) for part in (phones or "").split(",")) if key)
