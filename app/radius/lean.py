"""An Access-Request as the one login path reads it, and the bytes of its reply.

Every Access-Request becomes an AccessRequest — the fields deciding and
answering a login needs — read by one of two decoders:
- `parse`, here: the usual request (User-Name, User-Password (PAP),
  CHAP-Password or MS-CHAP's challenge and response (v1 or v2,
  app.radius.mschap), a Message-Authenticator that verifies, or none from a
  NAS that need not send one) in one pass over its bytes. pyrad spends about
  150 µs of Python on a request (a packet object, its attributes decoded
  through the dictionary); at thousands of logins a second (a NAS
  rebooting, every subscriber dialling again) that was the whole cost of a
  login, the cache having made the database's part nothing;
- pyrad, the fallback for whatever `parse` does not read (it returns None):
  an attribute it does not know, several User-Names, a mix of methods… The
  server (app.radius.server) has pyrad decode and check the packet, drop
  what must be dropped, and `from_pyrad` takes the same fields from it.
Both feed the same decision and the same reply (app.radius.auth.reply),
which `encode_reply` writes: the attributes come encoded already (once per
subscription, NAS make and walled garden: Accept attributes do not change
between logins), so a reply costs two digests. tests/radius/test_lean.py
decodes the same requests both ways and checks that they read alike.
"""
import hashlib
import hmac
import struct

from pyrad import packet as radius_packet
from pyrad import tools

from app.radius import mschap

USER_NAME, USER_PASSWORD, CHAP_PASSWORD, CALLING_STATION_ID, PROXY_STATE = 1, 2, 3, 31, 33
NAS_PORT, NAS_PORT_ID = 5, 87  # where a session comes in (Simultaneous-Use: a redial comes on the same port)
CHAP_CHALLENGE, MESSAGE_AUTHENTICATOR = 60, 80
NAS_IDENTIFIER = 32
# Attributes a NAS sends with a login that change nothing in the answer; any other sends the request to pyrad.
IGNORED = frozenset({
    4,   # NAS-IP-Address
    6,   # Service-Type
    7,   # Framed-Protocol
    30,  # Called-Station-Id
    32,  # NAS-Identifier (app.radius.server.NasList chose the NAS by it already)
    44,  # Acct-Session-Id
    61,  # NAS-Port-Type
    95,  # NAS-IPv6-Address
})
VENDOR_SPECIFIC = 26  # MikroTik, Cisco… send their own, none decides a login; Microsoft's carry MS-CHAP
MICROSOFT = struct.pack("!I", mschap.MICROSOFT)
ZERO_AUTHENTICATOR = bytes(16)
HEADER = struct.Struct("!BBH")
NAS_PORT_LENGTH = 50  # radius_session.nas_port


class AccessRequest:
    """An Access-Request, read by `parse` or `from_pyrad`: what deciding and answering it needs."""

    __slots__ = ("nas", "source", "identifier", "authenticator", "username", "user_password", "chap_password",
                 "chap_challenge", "calling_station_id", "proxy_states", "mschap", "nas_port")

    def __init__(self, nas, source, identifier, authenticator):
        self.nas, self.source, self.identifier, self.authenticator = nas, source, identifier, authenticator
        self.username = self.user_password = self.chap_password = None
        self.chap_challenge = self.calling_station_id = self.mschap = self.nas_port = None
        self.proxy_states = []


def parse(data, nas, source):
    """The AccessRequest of a usual Access-Request whose Message-Authenticator verifies (or is absent, from a NAS
    that need not send one); None for pyrad to read (and to drop, where it must)."""
    length = len(data)
    if length < 20 or data[0] != radius_packet.AccessRequest or HEADER.unpack_from(data)[2] != length:
        return None
    request = AccessRequest(nas, source, data[1], data[4:20])
    authenticator_at = None
    port_id = False  # a NAS-Port-Id came (it names the port, whatever the order of the attributes)
    port_id_seen = False
    microsoft = None  # MS-CHAP's attributes, when a Microsoft Vendor-Specific comes
    position = 20
    while position < length:
        if position + 2 > length:
            return None
        kind, size = data[position], data[position + 1]
        if size < 2 or position + size > length:
            return None
        value = data[position + 2:position + size]
        if kind == USER_NAME:
            if request.username is not None:
                return None
            try:
                request.username = value.decode()[:100]
            except UnicodeDecodeError:
                return None
        # A second one of these is left to pyrad, which reads the first (`from_pyrad`), as of User-Name.
        elif kind == USER_PASSWORD:
            if request.user_password is not None:
                return None
            request.user_password = value
        elif kind == CHAP_PASSWORD:
            if request.chap_password is not None:
                return None
            request.chap_password = value
        elif kind == CHAP_CHALLENGE:
            if request.chap_challenge is not None:
                return None
            request.chap_challenge = value
        elif kind == CALLING_STATION_ID:
            if request.calling_station_id is not None:
                return None
            request.calling_station_id = value.decode(errors="replace")
        elif kind == NAS_PORT_ID:
            # Preferred to NAS-Port's number, as app.radius.accounting.nas_port reads it; the first one only, as
            # pyrad's reading (an empty first one leaves NAS-Port's number).
            if not port_id_seen:
                port_id_seen = True
                port = port_text(value)
                if port:
                    request.nas_port, port_id = port, True
        elif kind == NAS_PORT:
            if size == 6 and not port_id and request.nas_port is None:
                request.nas_port = str(int.from_bytes(value, "big"))
        elif kind == PROXY_STATE:
            request.proxy_states.append(value)
        elif kind == VENDOR_SPECIFIC:
            if value[:4] == MICROSOFT:
                if microsoft is None:
                    microsoft = {number: [] for number in mschap.READ}
                if not _read_microsoft(value, microsoft):
                    return None
        elif kind == MESSAGE_AUTHENTICATOR:
            if authenticator_at is not None or size != 18:
                return None
            authenticator_at = position + 2
        elif kind not in IGNORED:
            return None
        position += size
    if microsoft is not None:
        request.mschap = mschap.read(microsoft[mschap.CHAP_CHALLENGE], microsoft[mschap.CHAP_RESPONSE],
                                     microsoft[mschap.CHAP2_RESPONSE])
        if request.mschap is None:
            return None
    methods = (request.user_password is not None) + (request.chap_password is not None) + (request.mschap is not None)
    if not request.username or methods != 1:
        return None
    if authenticator_at is None:
        return None if nas.require_message_authenticator else request
    zeroed = data[:authenticator_at] + ZERO_AUTHENTICATOR + data[authenticator_at + 16:]
    expected = hmac.new(nas.secret, zeroed, hashlib.md5).digest()
    if not hmac.compare_digest(expected, data[authenticator_at:authenticator_at + 16]):
        return None
    return request


def nas_identifier(data):
    """The text of a request's first NAS-Identifier (how app.radius.server.NasList tells apart NAS behind one
    address), or None: none, or the attributes do not parse (the packet is dropped later as malformed)."""
    position, length = 20, len(data)
    while position + 2 <= length:
        kind, size = data[position], data[position + 1]
        if size < 2 or position + size > length:
            return None
        if kind == NAS_IDENTIFIER:
            return data[position + 2:position + size].decode(errors="replace")
        position += size
    return None


def _read_microsoft(value, found):
    """Adds the sub-attributes of a Microsoft Vendor-Specific value to `found`; False when one is malformed or
    not a login's (a password change: pyrad's path answers it)."""
    position, length = 4, len(value)
    while position < length:
        if position + 2 > length:
            return False
        number, size = value[position], value[position + 1]
        if size < 2 or position + size > length or number not in found:
            return False
        found[number].append(value[position + 2:position + size])
        position += size
    return True


def port_text(value):
    """A NAS-Port-Id as the sessions store it (app.radius.accounting.nas_port reads it alike): text, no NUL, cut."""
    return value.decode(errors="replace").replace("\0", "")[:NAS_PORT_LENGTH]


def from_pyrad(packet, nas, source):
    """The AccessRequest of an Access-Request that pyrad decoded and app.radius.server checked (the fallback
    for what `parse` does not read): the same fields, from pyrad's raw values, read as `parse` reads them. A
    request `parse` would refuse as ambiguous (no or several methods, no user name) is still answered, by
    the decision (a reject)."""
    def first(key):
        values = packet.get(key)
        return values[0] if values else None

    request = AccessRequest(nas, source, packet.id, packet.authenticator)
    name = first(USER_NAME)
    if name is not None:
        try:
            request.username = name.decode()[:100] or None
        except UnicodeDecodeError:
            pass  # no user of ours: rejected
    request.user_password, request.chap_password = first(USER_PASSWORD), first(CHAP_PASSWORD)
    request.chap_challenge = first(CHAP_CHALLENGE)
    calling = first(CALLING_STATION_ID)
    request.calling_station_id = None if calling is None else calling.decode(errors="replace")
    port = first(NAS_PORT_ID)
    request.nas_port = port_text(port) if port is not None else None
    if not request.nas_port:
        number = first(NAS_PORT)
        request.nas_port = str(int.from_bytes(number, "big")) if number is not None and len(number) == 4 else None
    request.proxy_states = list(packet.get(PROXY_STATE, []))
    if (mschap.MICROSOFT, mschap.CHAP_CHALLENGE) in packet:
        request.mschap = mschap.read(*(packet.get((mschap.MICROSOFT, number), [])
                                       for number in (mschap.CHAP_CHALLENGE, mschap.CHAP_RESPONSE,
                                                      mschap.CHAP2_RESPONSE)))
    return request


def encode_reply(request, code, attributes):
    """The reply's bytes: Message-Authenticator first (BlastRADIUS), the request's Proxy-States, `attributes`
    (encoded already), and the Response Authenticator."""
    proxy = b"".join(bytes((PROXY_STATE, len(state) + 2)) + state for state in request.proxy_states)
    body = bytes((MESSAGE_AUTHENTICATOR, 18)) + ZERO_AUTHENTICATOR + proxy + attributes
    header = HEADER.pack(code, request.identifier, 20 + len(body))
    secret = request.nas.secret
    signature = hmac.new(secret, header + request.authenticator + body, hashlib.md5).digest()
    body = bytes((MESSAGE_AUTHENTICATOR, 18)) + signature + proxy + attributes
    return header + hashlib.md5(header + request.authenticator + body + secret).digest() + body


ACCOUNTING_REQUEST = radius_packet.AccountingRequest


class AccountingReader:
    """What `parse_accounting` reads of an Accounting-Request, from a dictionary: the attributes `names` (those
    app.radius.accounting reads) by code, with their type and named values, to decode them as pyrad does."""

    def __init__(self, dictionary, names):
        self.by_name, self.by_code = {}, {}
        for name in names:
            attribute = dictionary.attributes[name]
            if attribute.vendor or attribute.has_tag or attribute.encrypt or attribute.type == "tlv":
                raise ValueError(f"{name}: not read by the lean accounting decoder")
            self.by_name[name] = (attribute.code, attribute.type, attribute.values)
            self.by_code[attribute.code] = name
        # pyrad refuses a malformed TLV (a whole packet): a packet with one, or with a Vendor-Specific when any
        # vendor has TLVs, is left to it. None in the project's dictionary: a Vendor-Specific is skipped here.
        tlvs = [attribute for attribute in dictionary.attributes.values() if attribute.type == "tlv"]
        self.left_to_pyrad = {attribute.code for attribute in tlvs if not attribute.vendor}
        if any(attribute.vendor for attribute in tlvs):
            self.left_to_pyrad.add(VENDOR_SPECIFIC)


class AccountingRequest:
    """An Accounting-Request read by `parse_accounting`: its header, Proxy-States and the raw value of each
    attribute the accounting reads, decoded on demand (`first`) as pyrad decodes it."""

    __slots__ = ("nas", "source", "identifier", "authenticator", "proxy_states", "raw", "reader")

    def __init__(self, nas, source, identifier, authenticator, reader):
        self.nas, self.source, self.identifier, self.authenticator = nas, source, identifier, authenticator
        self.proxy_states, self.raw, self.reader = [], {}, reader

    @property
    def secret(self):
        return self.nas.secret

    def first(self, name, default=None):
        """The attribute's value as pyrad's packet[name][0] gives it (a named value's name, else its type's
        decoding); `default` when absent or when it does not decode (app.radius.accounting's `_first`)."""
        code, kind, values = self.reader.by_name[name]
        value = self.raw.get(code)
        if value is None:
            return default
        if values.HasBackward(value):
            return values.GetBackward(value)
        try:
            return decode_attribute(kind, value)
        except ValueError:
            return default


def parse_accounting(data, nas, source, reader):
    """The AccountingRequest of an Accounting-Request whose Request Authenticator verifies, in one pass over its
    bytes (pyrad's packet object, its decoding and checks cost ~17 µs a packet); None for pyrad to read — and
    to drop, counted, what must be dropped: a wrong length or authenticator, a malformed attribute, a second
    value of an attribute the accounting reads (pyrad reads the first of several and fails on any bad one)."""
    length = len(data)
    if length < 20 or data[0] != ACCOUNTING_REQUEST or HEADER.unpack_from(data)[2] != length:
        return None
    authenticator = data[4:20]
    expected = hashlib.md5(data[:4] + ZERO_AUTHENTICATOR + data[20:] + nas.secret).digest()
    if not hmac.compare_digest(expected, authenticator):
        return None
    request = AccountingRequest(nas, source, data[1], authenticator, reader)
    raw, wanted, refused = request.raw, reader.by_code, reader.left_to_pyrad
    position = 20
    while position < length:
        if position + 2 > length:
            return None
        kind, size = data[position], data[position + 1]
        if size < 2 or position + size > length:
            return None
        if kind in wanted:
            if kind in raw:
                return None
            raw[kind] = data[position + 2:position + size]
        elif kind == PROXY_STATE:
            request.proxy_states.append(data[position + 2:position + size])
        elif kind in refused:
            return None
        position += size
    return request


def decode_attribute(kind, value):
    """pyrad.tools.DecodeAttr, the usual types first (the same values, the same ValueError on a wrong length)."""
    if kind == "integer" or kind == "date":
        if len(value) != 4:
            raise ValueError(f"Invalid {kind} value: expected 4 bytes, got {len(value)}")
        return int.from_bytes(value, "big")
    if kind == "string":
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return value
    return tools.DecodeAttr(kind, value)
