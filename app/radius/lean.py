"""The common Access-Request, read and answered without building pyrad packets.

pyrad spends about 150 µs of Python on each Access-Request: a packet
object, its attributes decoded through the dictionary, a reply object, its
attributes encoded, two digests. At thousands of logins a second (a NAS
rebooting, every subscriber dialling again) that is the whole cost of a
login, the cache having made the database's part nothing.

The usual request — User-Name, User-Password (PAP), CHAP-Password or
MS-CHAP's challenge and response (v1 or v2, app.radius.mschap), a
Message-Authenticator that verifies (or none, from a NAS that need not send
one) — is read here with one pass over its attributes, and answered with bytes prepared once per subscription, NAS
make and walled garden (Accept attributes do not change between logins).
Everything else — a wrong or missing but required Message-Authenticator, malformed
attributes, a Status-Server, an attribute this path does not read — goes
to pyrad as before (`parse` returns None), which also counts what it drops.
The decision is app.radius.auth's own (`decide_lean` below mirrors
`decide`); tests/radius/test_lean.py answers the same requests both ways
and compares what a NAS reads.
"""
import hashlib
import hmac
import struct

from pyrad import packet as radius_packet

from app.radius import mschap

USER_NAME, USER_PASSWORD, CHAP_PASSWORD, CALLING_STATION_ID, PROXY_STATE = 1, 2, 3, 31, 33
NAS_PORT, NAS_PORT_ID = 5, 87  # where a session comes in (Simultaneous-Use: a redial comes on the same port)
CHAP_CHALLENGE, MESSAGE_AUTHENTICATOR = 60, 80
# Attributes a NAS sends with a login that change nothing in the answer; any other sends the request to pyrad.
IGNORED = frozenset({
    4,   # NAS-IP-Address
    6,   # Service-Type
    7,   # Framed-Protocol
    30,  # Called-Station-Id
    32,  # NAS-Identifier
    44,  # Acct-Session-Id
    61,  # NAS-Port-Type
})
VENDOR_SPECIFIC = 26  # MikroTik, Cisco… send their own, none decides a login; Microsoft's carry MS-CHAP
MICROSOFT = struct.pack("!I", mschap.MICROSOFT)
ZERO_AUTHENTICATOR = bytes(16)
HEADER = struct.Struct("!BBH")
NAS_PORT_LENGTH = 50  # radius_session.nas_port


class LeanRequest:
    """An Access-Request read by `parse`: what deciding and answering it needs."""

    __slots__ = ("nas", "source", "identifier", "authenticator", "username", "user_password", "chap_password",
                 "chap_challenge", "calling_station_id", "proxy_states", "mschap", "nas_port")

    def __init__(self, nas, source, identifier, authenticator):
        self.nas, self.source, self.identifier, self.authenticator = nas, source, identifier, authenticator
        self.username = self.user_password = self.chap_password = None
        self.chap_challenge = self.calling_station_id = self.mschap = self.nas_port = None
        self.proxy_states = []


def parse(data, nas, source):
    """A LeanRequest of a usual Access-Request whose Message-Authenticator verifies (or is absent, from a NAS
    that need not send one); None for pyrad to read (and to drop, where it must)."""
    length = len(data)
    if length < 20 or data[0] != radius_packet.AccessRequest or HEADER.unpack_from(data)[2] != length:
        return None
    request = LeanRequest(nas, source, data[1], data[4:20])
    authenticator_at = None
    port_id = False  # a NAS-Port-Id came (it names the port, whatever the order of the attributes)
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
        elif kind == USER_PASSWORD:
            request.user_password = value
        elif kind == CHAP_PASSWORD:
            request.chap_password = value
        elif kind == CHAP_CHALLENGE:
            request.chap_challenge = value
        elif kind == CALLING_STATION_ID:
            request.calling_station_id = value.decode(errors="replace")
        elif kind == NAS_PORT_ID:
            # Preferred to NAS-Port's number, as app.radius.accounting.nas_port reads it.
            if not port_id:
                port = value.decode(errors="replace").replace("\0", "")[:NAS_PORT_LENGTH]
                if port:
                    request.nas_port, port_id = port, True
        elif kind == NAS_PORT:
            if size == 6 and not port_id:
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


def password_matches(request, password):
    """PAP or CHAP against the subscription's password, as pyrad's PwDecrypt and VerifyChapPasswd would."""
    if not password:
        return False
    if request.chap_password is not None:
        chap = request.chap_password
        if len(chap) != 17:
            return False
        challenge = request.chap_challenge if request.chap_challenge is not None else request.authenticator
        return hmac.compare_digest(chap[1:], hashlib.md5(chap[:1] + password.strip().encode() + challenge).digest())
    hidden = request.user_password
    if not hidden or len(hidden) % 16:
        return False
    secret, last, typed = request.nas.secret, request.authenticator, bytearray()
    for start in range(0, len(hidden), 16):
        block = hidden[start:start + 16]
        mask = hashlib.md5(secret + last).digest()
        typed += bytes(a ^ b for a, b in zip(block, mask))
        last = block
    return hmac.compare_digest(bytes(typed).rstrip(b"\0"), password.encode())


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
