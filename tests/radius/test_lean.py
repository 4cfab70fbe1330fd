"""The two decoders of an Access-Request (app.radius.lean.parse, and pyrad as the fallback) read the same request, and
the one decision answers it alike, as a NAS reads the reply."""
import hashlib
import os
import re
import types
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrad import packet as radius_packet

from app.radius import auth, lean, load_dictionary, mschap
from app.radius.server import NasInfo, check_request

DICTIONARY = load_dictionary()
SECRET = b"lean-secret-123"
TODAY = date(2026, 12, 1)


def nas(vendor="mikrotik", pool=None, message=None, require_message_authenticator=False, interim=None):
    return NasInfo(1, "NAS", SECRET, vendor, require_message_authenticator, pool, message, interim)


def subscription(password="parola-123", status="active", mac=None, addresses=("10.0.0.7",), frozen=False):
    data = auth.AuthData(types.SimpleNamespace(id=7, username="ivan", service_id=3, password=password, status=status,
                                               mac_address=mac, download_kbps=20000, upload_kbps=5000,
                                               simultaneous_use=None, service_simultaneous_use=1))
    data.addresses = list(addresses)
    data.parameters = [("Session-Timeout", "86400", None)]
    if frozen:
        data.freezes = [(TODAY, TODAY)]
    return data


def request_bytes(username, password, chap=False, challenge=True, mac=None, proxy_states=(), extra=(),
                  message_authenticator=True, ms_chap=None):
    request = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=42, secret=SECRET, dict=DICTIONARY,
                                       authenticator=os.urandom(16))
    request["User-Name"] = username
    request["NAS-IP-Address"] = "192.0.2.1"
    request["NAS-Port"] = 15
    if mac:
        request["Calling-Station-Id"] = mac
    if chap:
        chap_id, salt = b"\x07", os.urandom(16)
        if challenge:
            request["CHAP-Challenge"] = salt
        else:
            salt = request.authenticator
        request["CHAP-Password"] = chap_id + hashlib.md5(chap_id + password.encode() + salt).digest()
    elif ms_chap:
        add_ms_chap(request, ms_chap, username, password)
    else:
        request["User-Password"] = request.PwCrypt(password)
    for state in proxy_states:
        request.AddAttribute("Proxy-State", state)
    for code, value in extra:
        if isinstance(code, str):
            request.AddAttribute(code, value)  # after any of the same name
        else:
            request[code] = [value]
    if message_authenticator:
        request.add_message_authenticator()
    return request, request.RequestPacket()


def add_ms_chap(request, version, username, password):
    """MS-CHAP's attributes as a NAS relays them (computed by app.radius.mschap: its RFC vectors and the
    server tests' independent computation are in tests/radius/test_mschap.py)."""
    password_hash = mschap.nt_password_hash(password)
    if version == 1:
        challenge = os.urandom(8)
        request["MS-CHAP-Challenge"] = challenge
        request["MS-CHAP-Response"] = b"\x05\x01" + bytes(24) + mschap.challenge_response(challenge, password_hash)
    else:
        challenge, peer = os.urandom(16), os.urandom(16)
        # The peer hashes the name without a Windows domain ("FIRMA\\ivan" → "ivan", RFC 2759 section 4).
        name = username.split("\\", 1)[-1].encode()
        response = mschap.challenge_response(mschap.challenge_hash(peer, challenge, name), password_hash)
        request["MS-CHAP-Challenge"] = challenge
        request["MS-CHAP2-Response"] = b"\x05\x00" + peer + bytes(8) + response


FIELDS = [name for name in lean.AccessRequest.__slots__ if name != "mschap"]


def read_alike(lean_request, pyrad_request):
    """Both decoders took the same fields from the request (MS-CHAP's login by its values)."""
    def fields(request):
        login = request.mschap
        return ({name: getattr(request, name) for name in FIELDS},
                None if login is None else (login.version, login.challenge, login.response))

    assert fields(lean_request) == fields(pyrad_request)


def pyrad_decoded(raw, nas_info, source):
    """The request as the server's fallback reads it: pyrad decodes and checks it, then app.radius.lean.from_pyrad."""
    packet = radius_packet.AuthPacket(packet=raw, secret=SECRET, dict=DICTIONARY)
    assert check_request(packet, nas_info) is None
    return lean.from_pyrad(packet, nas_info, source)


def both_answers(app, raw, data, nas_info):
    """(reply bytes, reply bytes) to the same request bytes, read by the lean decoder and by pyrad's."""
    source = ("192.0.2.1", 3000)
    with app.app_context():
        lean_request = lean.parse(raw, nas_info, source)
        assert lean_request is not None
        pyrad_request = pyrad_decoded(raw, nas_info, source)
        read_alike(lean_request, pyrad_request)
        return tuple(auth.reply(request, data, TODAY, 300, DICTIONARY) for request in (lean_request, pyrad_request))


def as_the_nas_reads(request, raw):
    """The reply's code and attributes, after the checks a NAS makes (authenticator, Message-Authenticator)."""
    reply = request.CreateReply(packet=raw)
    reply.request_authenticator = request.authenticator  # the MPPE keys are encrypted with it (pyrad decrypts)
    assert request.VerifyReply(reply, raw, enforce_ma=True)
    attributes = {key: reply[key] for key in reply.keys() if key != "Message-Authenticator"}
    if "MS-CHAP-Error" in attributes:
        # MS-CHAPv2's error carries a new random challenge for the retry: the same on both paths but for it.
        attributes["MS-CHAP-Error"] = [re.sub("C=[0-9A-F]{32}", "C=…", error) for error in attributes["MS-CHAP-Error"]]
    return reply.code, attributes


CASES = {
    "pap": (dict(), dict()),
    "chap": (dict(chap=True), dict()),
    "chap, the authenticator as challenge": (dict(chap=True, challenge=False), dict()),
    "wrong password": (dict(password="wrong-one"), dict()),
    "suspended": (dict(), dict(status="suspended")),
    "frozen": (dict(), dict(frozen=True)),
    "bound MAC, written the Cisco way": (dict(mac="aabb.cc00.1122"), dict(mac="AA:BB:CC:00:11:22")),
    "another MAC": (dict(mac="AA:BB:CC:00:11:23"), dict(mac="AA:BB:CC:00:11:22")),
    "no MAC sent": (dict(), dict(mac="AA:BB:CC:00:11:22")),
    "proxy states": (dict(proxy_states=(b"proxy-1", b"proxy-2")), dict()),
    "several addresses": (dict(), dict(addresses=("10.0.0.7", "10.0.0.8", "10.0.0.9"))),
    "no Message-Authenticator": (dict(message_authenticator=False), dict()),
    "ms-chap v1": (dict(ms_chap=1), dict()),
    "ms-chap v2": (dict(ms_chap=2), dict()),
    "ms-chap v1, wrong password": (dict(ms_chap=1, password="wrong-one"), dict()),
    "ms-chap v2, wrong password": (dict(ms_chap=2, password="wrong-one"), dict()),
    "ms-chap v2, suspended": (dict(ms_chap=2), dict(status="suspended")),
    "ms-chap v2, another MAC": (dict(ms_chap=2, mac="AA:BB:CC:00:11:23"), dict(mac="AA:BB:CC:00:11:22")),
    "ms-chap v2, proxy states, no Message-Authenticator": (
        dict(ms_chap=2, proxy_states=(b"proxy-1",), message_authenticator=False), dict()),
}


def test_every_case_is_answered_alike(app):
    for name, (sent, stored) in CASES.items():
        for vendor in ("mikrotik", "cisco", "juniper"):
            password = sent.pop("password", "parola-123")
            request, raw = request_bytes("ivan", password, **sent)
            sent["password"] = password
            lean_raw, pyrad_raw = both_answers(app, raw, subscription(**stored), nas(vendor))
            assert as_the_nas_reads(request, lean_raw) == as_the_nas_reads(request, pyrad_raw), (name, vendor)


def test_the_walled_garden_and_an_unknown_user_are_answered_alike(app):
    for sent in (dict(chap=True), dict(ms_chap=2)):
        request, raw = request_bytes("ivan", "parola-123", **sent)
        garden = nas(pool="debtors", message="Платете в офиса, " * 20)
        lean_raw, pyrad_raw = both_answers(app, raw, subscription(status="suspended"), garden)
        code, attributes = as_the_nas_reads(request, lean_raw)
        assert code == radius_packet.AccessAccept and attributes["Framed-Pool"] == ["debtors"]
        assert ("MS-CHAP2-Success" in attributes) == ("ms_chap" in sent)
        assert (code, attributes) == as_the_nas_reads(request, pyrad_raw)
        lean_raw, pyrad_raw = both_answers(app, raw, None, garden)
        assert as_the_nas_reads(request, lean_raw) == as_the_nas_reads(request, pyrad_raw)
        assert as_the_nas_reads(request, lean_raw)[0] == radius_packet.AccessReject


def test_each_make_gets_its_own_parameters_and_one_speed(app):
    """A vendor's attribute reaches only its make's NAS, a parameter naming makes only those, and a parameter that
    would repeat the service's speed none (both paths alike)."""
    stored = subscription()
    stored.parameters = [("Session-Timeout", "86400", None), ("Mikrotik-Address-List", "clients", None),
                         ("Framed-Pool", "pppoe", "cisco,juniper"), ("Mikrotik-Rate-Limit", "1M/1M", None),
                         ("WISPr-Bandwidth-Max-Up", "1000", None), ("Бележка", "не е атрибут", None)]
    got = {}
    for vendor in ("mikrotik", "cisco", "juniper"):
        request, raw = request_bytes("ivan", "parola-123")
        lean_raw, pyrad_raw = both_answers(app, raw, stored, nas(vendor))
        code, attributes = as_the_nas_reads(request, lean_raw)
        assert (code, attributes) == as_the_nas_reads(request, pyrad_raw)
        got[vendor] = attributes
    assert got["mikrotik"]["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
    assert got["mikrotik"]["Mikrotik-Address-List"] == ["clients"] and "Framed-Pool" not in got["mikrotik"]
    assert got["mikrotik"].get("WISPr-Bandwidth-Max-Up") is None  # a MikroTik hotspot reads it: no second speed
    assert "Mikrotik-Address-List" not in got["cisco"] and got["cisco"]["Framed-Pool"] == ["pppoe"]
    assert got["juniper"]["WISPr-Bandwidth-Max-Up"] == [5000000] and got["juniper"]["Framed-Pool"] == ["pppoe"]
    assert all(attributes["Session-Timeout"] == [86400] for attributes in got.values())
    assert not any("Mikrotik-Rate-Limit" in got[vendor] for vendor in ("cisco", "juniper"))


def test_a_nas_with_its_own_interim_interval_gets_it_on_both_paths(app):
    """Acct-Interim-Interval is the NAS's own where set, else the server's (300 here), in an Accept and a walled
    garden alike, by both decoders; the encoded Accept of one NAS is not another's."""
    stored = subscription()
    for sent in (dict(), dict(ms_chap=2)):
        for own, expected in ((120, 120), (None, 300), (3600, 3600)):
            for status, pool in (("active", None), ("suspended", "debtors")):
                stored.status = status
                request, raw = request_bytes("ivan", "parola-123", **sent)
                lean_raw, pyrad_raw = both_answers(app, raw, stored, nas(pool=pool, interim=own))
                code, attributes = as_the_nas_reads(request, lean_raw)
                assert (code, attributes) == as_the_nas_reads(request, pyrad_raw)
                assert code == radius_packet.AccessAccept
                assert attributes["Acct-Interim-Interval"] == [expected], (sent, own, status)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(min_size=1, max_size=60).filter(lambda text: "\x00" not in text and len(text.encode()) <= 60),
       password=st.text(min_size=1, max_size=40).filter(lambda text: "\x00" not in text and text.strip() == text),
       typed_right=st.booleans(), method=st.sampled_from(["pap", "chap", "ms-chap v1", "ms-chap v2"]),
       status=st.sampled_from(["active", "suspended", "terminated"]))
def test_any_username_and_password_are_answered_alike(app, username, password, typed_right, method, status):
    typed = password if typed_right else password + "x"
    ms_chap = {"ms-chap v1": 1, "ms-chap v2": 2}.get(method)
    request, raw = request_bytes(username, typed, chap=method == "chap", ms_chap=ms_chap)
    stored = subscription(password=password, status=status)
    lean_raw, pyrad_raw = both_answers(app, raw, stored, nas(pool="debtors"))
    lean_read = as_the_nas_reads(request, lean_raw)
    assert lean_read == as_the_nas_reads(request, pyrad_raw)
    assert (lean_read[0] == radius_packet.AccessAccept) == (typed_right and status != "terminated")


def test_what_the_lean_path_does_not_read_goes_to_pyrad():
    _request, raw = request_bytes("ivan", "parola-123")
    assert lean.parse(raw, nas(require_message_authenticator=True), None) is not None
    other_secret = NasInfo(1, "NAS", b"another-secret", "mikrotik", True)
    assert lean.parse(raw, other_secret, None) is None  # the Message-Authenticator does not verify
    request = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=1, secret=SECRET, dict=DICTIONARY)
    request["User-Name"] = "ivan"
    request["User-Password"] = request.PwCrypt("parola-123")
    assert lean.parse(request.RequestPacket(), nas(require_message_authenticator=True), None) is None  # it must
    old_nas = NasInfo(1, "NAS", SECRET, "mikrotik", False)
    assert lean.parse(request.RequestPacket(), old_nas, None).username == "ivan"  # a NAS that need not send one
    _request, eap = request_bytes("ivan", "parola-123", extra=[(79, b"\x02\x01\x00\x06\x01a")])  # EAP-Message
    assert lean.parse(eap, nas(), None) is None  # an attribute it does not know
    assert lean.parse(raw[:-3], nas(), None) is None  # truncated
    assert lean.parse(raw[:21] + b"\x01" + raw[22:], nas(), None) is None  # an attribute's length is wrong
    assert lean.parse(os.urandom(200), nas(), None) is None
    # MS-CHAP: a password change, or a challenge without its response, is pyrad's to answer (a reject).
    request, raw = request_bytes("ivan", "parola-123", ms_chap=2)
    assert lean.parse(raw, nas(), None).mschap.version == 2
    request, raw = request_bytes("ivan", "parola-123", ms_chap=2, extra=[((311, 27), bytes(68))])  # MS-CHAP2-CPW
    assert lean.parse(raw, nas(), None) is None
    alone = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=1, secret=SECRET, dict=DICTIONARY)
    alone["User-Name"] = "ivan"
    alone["MS-CHAP-Challenge"] = os.urandom(16)
    assert lean.parse(alone.RequestPacket(), old_nas, None) is None
    # Another vendor's attribute in the request changes nothing; MikroTik sends its own.
    request, raw = request_bytes("ivan", "parola-123", ms_chap=2, extra=[((14988, 19), b"list")])
    assert lean.parse(raw, nas(), None).mschap is not None


def without_mschap_values(read):
    code, attributes = read
    return code, {name: ("…" if name.startswith("MS-") else values) for name, values in attributes.items()}


def test_what_only_pyrad_decodes_is_decided_and_answered_alike(app):
    """The fallback answers what the lean decoder leaves to it as the lean path answers the usual request."""
    source = ("192.0.2.1", 3000)
    stored = subscription(mac="AA:BB:CC:00:11:22")
    for sent in (dict(), dict(chap=True), dict(ms_chap=2), dict(password="wrong-one"), dict(ms_chap=2, password="x")):
        password = sent.pop("password", "parola-123")
        usual, usual_raw = request_bytes("ivan", password, mac="aa-bb-cc-00-11-22", **sent)
        # Connect-Info and Framed-MTU: attributes the lean decoder does not know.
        odd, odd_raw = request_bytes("ivan", password, mac="aa-bb-cc-00-11-22",
                                     extra=[("Connect-Info", "1000BaseT"), ("Framed-MTU", 1480)], **sent)
        assert lean.parse(odd_raw, nas(), source) is None
        with app.app_context():
            usual_reply = auth.reply(lean.parse(usual_raw, nas(), source), stored, TODAY, 300, DICTIONARY)
            odd_reply = auth.reply(pyrad_decoded(odd_raw, nas(), source), stored, TODAY, 300, DICTIONARY)
        # Two requests, two challenges: MS-CHAP's values differ, which of them came does not.
        assert without_mschap_values(as_the_nas_reads(usual, usual_reply)) == without_mschap_values(
            as_the_nas_reads(odd, odd_reply)), sent
        assert as_the_nas_reads(odd, odd_reply)[0] == (
            radius_packet.AccessAccept if password == "parola-123" else radius_packet.AccessReject)


def test_requests_the_lean_decoder_finds_ambiguous_are_rejected_or_decided_by_the_first_method(app):
    source = ("192.0.2.1", 3000)
    with app.app_context():
        # Both CHAP and PAP: CHAP decides, as pyrad's own path always did.
        both, raw = request_bytes("ivan", "parola-123", chap=True, extra=[("User-Password", b"x" * 16)])
        assert lean.parse(raw, nas(), source) is None
        assert as_the_nas_reads(both, auth.reply(pyrad_decoded(raw, nas(), source), subscription(), TODAY, 300,
                                                 DICTIONARY))[0] == radius_packet.AccessAccept
        # Two Calling-Station-Ids: the first is the device (pyrad's reading), here the bound one.
        twice, raw = request_bytes("ivan", "parola-123", mac="AA:BB:CC:00:11:22",
                                   extra=[("Calling-Station-Id", "AA:BB:CC:00:11:23")])
        assert lean.parse(raw, nas(), source) is None
        assert pyrad_decoded(raw, nas(), source).calling_station_id == "AA:BB:CC:00:11:22"
        assert as_the_nas_reads(twice, auth.reply(pyrad_decoded(raw, nas(), source), subscription(
            mac="AA:BB:CC:00:11:22"), TODAY, 300, DICTIONARY))[0] == radius_packet.AccessAccept
        # A user name that is not UTF-8 names nobody: rejected.
        request = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=1, secret=SECRET, dict=DICTIONARY)
        request[1] = [b"iv\xffan"]
        request["User-Password"] = request.PwCrypt("parola-123")
        request.add_message_authenticator()
        raw = request.RequestPacket()
        assert lean.parse(raw, nas(), source) is None
        decoded = pyrad_decoded(raw, nas(), source)
        assert decoded.username is None
        assert as_the_nas_reads(request, auth.answer([decoded], types.SimpleNamespace(get_many=lambda names: {}),
                                                     DICTIONARY)[0][0])[0] == radius_packet.AccessReject


METHODS = st.sampled_from([
    [("User-Password", st.binary(min_size=16, max_size=32))],
    [("CHAP-Password", st.binary(min_size=17, max_size=17))],
    [("CHAP-Password", st.binary(min_size=17, max_size=17)), ("CHAP-Challenge", st.binary(min_size=16, max_size=16))],
    [("MS-CHAP-Challenge", st.binary(min_size=16, max_size=16)),
     ("MS-CHAP2-Response", st.binary(min_size=50, max_size=50))],
    [("MS-CHAP-Challenge", st.binary(min_size=8, max_size=8)),
     ("MS-CHAP-Response", st.binary(min_size=50, max_size=50))],
])
OTHERS = st.sampled_from([
    ("Calling-Station-Id", st.sampled_from(["AA:BB:CC:00:11:22", "aabb.cc00.1123", "не MAC"])),
    ("NAS-Port", st.integers(min_value=0, max_value=2 ** 32 - 1)),
    ("NAS-Port-Id", st.sampled_from(["ether1", "", "pppoe-1/2\x00", "д" * 40])),
    ("Proxy-State", st.binary(min_size=1, max_size=8)),
    ("NAS-Identifier", st.just("mikrotik-1")),
    ("Service-Type", st.just(2)),
    ("Mikrotik-Address-List", st.just("list")),
    # What the lean decoder leaves to pyrad: another attribute, a second name or method.
    ("Connect-Info", st.just("1000BaseT")),
    ("User-Name", st.just("petar")),
    ("User-Password", st.binary(min_size=16, max_size=16)),
    ("MS-CHAP-Challenge", st.binary(min_size=16, max_size=16)),
])


@settings(max_examples=300, deadline=None)
@given(data=st.data(), message_authenticator=st.booleans())
def test_both_decoders_read_any_request_alike(data, message_authenticator):
    """Whatever the attributes, their order and repeats: a request the lean decoder reads, pyrad's fallback reads
    the same (and one it leaves, pyrad alone reads, for the same decision)."""
    request = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=9, secret=SECRET, dict=DICTIONARY,
                                       authenticator=os.urandom(16))
    attributes = [("User-Name", st.text(min_size=1, max_size=20).filter(lambda text: "\x00" not in text)),
                  *data.draw(METHODS), *data.draw(st.lists(OTHERS, max_size=6))]
    for name, values in data.draw(st.permutations(attributes)):
        request.AddAttribute(name, data.draw(values))
    if message_authenticator:
        request.add_message_authenticator()
    raw = request.RequestPacket()
    source = ("192.0.2.1", 3000)
    fallback = pyrad_decoded(raw, nas(), source)
    # The NAS-Identifier that chooses the NAS (app.radius.server.NasList) is the first, as pyrad reads it.
    identifiers = request.get(32)
    assert lean.nas_identifier(raw) == (identifiers[0].decode() if identifiers else None)
    lean_request = lean.parse(raw, nas(), source)
    if lean_request is not None:
        read_alike(lean_request, fallback)


def test_an_accepts_attributes_are_the_bytes_pyrad_writes_whatever_the_subscription_holds():
    """accept_bytes writes the addresses itself and shares the rest by content: the bytes are pyrad's for the
    whole Accept (one address, several, none, IPv6, each make, parameters — one of them an address attribute),
    and two subscriptions of one service differ only in their addresses."""
    dictionary = load_dictionary()
    shapes = [
        dict(addresses=["10.0.0.7"]),
        dict(addresses=["10.64.0.%d" % number for number in range(2, 18)]),
        dict(addresses=[]),
        dict(addresses=["192.168.1.1"], ipv6_prefix="2001:db8:100::/64", delegated_prefix="2001:db8:ff00::/56"),
        dict(addresses=["10.0.0.8"], download_kbps=None, upload_kbps=None),
        dict(addresses=["10.0.0.9", "10.0.0.10"], parameters=[("Session-Timeout", "3600", None),
                                                              ("Framed-Pool", "pool-a", None)]),
        dict(addresses=["10.0.0.11", "10.0.0.12"], parameters=[("Framed-Route", "10.9.0.0/24 0.0.0.0 1", None)]),
    ]
    for vendor in ("mikrotik", "cisco", "juniper"):
        for shape in shapes:
            data = subscription(addresses=tuple(shape["addresses"]))
            for name, value in shape.items():
                setattr(data, name, value)
            expected = auth._encoded(dictionary, lambda reply: auth.accept_attributes(reply, data, vendor, 300))
            assert auth.accept_bytes(dictionary, data, vendor, 300) == expected, (vendor, shape)
            assert auth.accept_bytes(dictionary, data, vendor, 300) == expected  # from what is shared
    one, other = subscription(addresses=("10.0.0.1",)), subscription(addresses=("10.0.0.2",))
    assert auth.accept_bytes(dictionary, one, "mikrotik", 600)[6:] == auth.accept_bytes(
        dictionary, other, "mikrotik", 600)[6:]
    assert auth.accept_bytes(dictionary, one, "mikrotik", 600)[:6] == bytes((8, 6, 10, 0, 0, 1))


def test_an_accounting_response_is_the_bytes_pyrad_writes():
    """app.radius.accounting._reply writes the Accounting-Response itself: the same bytes as pyrad's
    CreateReply().ReplyPacket(), with the request's Proxy-States in order, or none."""
    from app.radius.accounting import _reply

    dictionary = load_dictionary()
    for states in ((), (b"first",), (b"a" * 40, b"\x00\x01second")):
        request = radius_packet.AcctPacket(code=radius_packet.AccountingRequest, id=77, secret=SECRET,
                                           dict=dictionary)
        request["User-Name"] = "ivan"
        request["Acct-Status-Type"] = "Start"
        for state in states:
            request.AddAttribute("Proxy-State", state)
        received = radius_packet.AcctPacket(packet=request.RequestPacket(), secret=SECRET, dict=dictionary)
        made, destination = _reply(types.SimpleNamespace(packet=received, source=("127.0.0.1", 1813)))
        assert made == received.CreateReply().ReplyPacket() and destination == ("127.0.0.1", 1813)
        assert received.VerifyReply(radius_packet.AcctPacket(packet=made, secret=SECRET, dict=dictionary), made)
        assert made.count(b"second") == (1 if len(states) == 2 else 0)


# The Accounting-Request: app.radius.lean.parse_accounting against pyrad's decoding, checks and reading.
from app.radius import accounting  # noqa: E402
from app.radius.server import Request  # noqa: E402

ACCT_NAS = nas()
SOURCE = ("192.0.2.1", 1812)
READER = lean.AccountingReader(DICTIONARY, accounting.READ)
CODES = {name: DICTIONARY.attributes[name].code for name in accounting.READ}


def acct_bytes(attributes, code=radius_packet.AccountingRequest, secret=SECRET, wrong_authenticator=False,
               length_delta=0, tail=b"", identifier=9):
    """An Accounting-Request's bytes written by hand (so that malformed ones can be): `attributes` (code, value)."""
    body = b"".join(bytes((kind, len(value) + 2)) + value for kind, value in attributes) + tail
    header = HEADER_STRUCT.pack(code, identifier, 20 + len(body) + length_delta)
    authenticator = hashlib.md5(header + bytes(16) + body + secret).digest()
    if wrong_authenticator:
        authenticator = bytes(16)
    return header + authenticator + body


HEADER_STRUCT = lean.HEADER
NOW = int(__import__("time").time())


def read(request):
    """What app.radius.accounting.record makes of a decoded request: its event (or why refused) and its reply."""
    try:
        event = accounting.event_of(request)
    except accounting.Refused as refused:
        return ("refused", refused.reason, accounting._reply(request)[0])
    except Exception as error:  # noqa: BLE001 — record() counts it unreadable
        return ("unreadable", type(error).__name__)
    return ("event", event, accounting._reply(request)[0])


def by_pyrad(data):
    """The server's pyrad path (app.radius.server._decode): decoded, checked, read."""
    try:
        packet = radius_packet.AcctPacket(packet=data, secret=SECRET, dict=DICTIONARY)
    except Exception:  # noqa: BLE001
        return ("dropped", "malformed")
    problem = check_request(packet, ACCT_NAS)
    if problem:
        return ("dropped", problem)
    return read(Request(packet, ACCT_NAS, SOURCE))


def by_lean(data):
    request = lean.parse_accounting(data, ACCT_NAS, SOURCE, READER)
    return None if request is None else read(request)


def same(lean_outcome, pyrad_outcome):
    """Equal, the event's time compared within a second where it is "now" (no Event-Timestamp)."""
    if lean_outcome[0] == pyrad_outcome[0] == "event" and lean_outcome[1] and pyrad_outcome[1]:
        first, second = lean_outcome[1], pyrad_outcome[1]
        assert abs((first.at - second.at).total_seconds()) < 2
        second = type(second)(**{**second.__dict__, "at": first.at})
        return (lean_outcome[0], first, lean_outcome[2]) == (pyrad_outcome[0], second, pyrad_outcome[2])
    return lean_outcome == pyrad_outcome


def integer(number):
    return number.to_bytes(4, "big")


def usual(status=1, **extra):
    attributes = [(CODES["User-Name"], b"user17"), (CODES["Acct-Status-Type"], integer(status)),
                  (CODES["Acct-Session-Id"], b"s-000017"), (4, bytes((127, 0, 0, 1))),
                  (CODES["Framed-IP-Address"], bytes((10, 0, 0, 17))), (85, integer(300))]
    if status == 3:
        attributes += [(CODES["Acct-Input-Octets"], integer(123456789)), (CODES["Acct-Output-Octets"], integer(5)),
                       (CODES["Acct-Input-Gigawords"], integer(1)), (CODES["Acct-Output-Gigawords"], integer(0)),
                       (CODES["Acct-Session-Time"], integer(600))]
    return attributes + list(extra.get("more", ()))


def test_the_usual_accounting_requests_are_read_without_pyrad_and_alike():
    now = int(__import__("time").time())
    for attributes in (usual(1), usual(3), usual(2, more=[(CODES["Acct-Terminate-Cause"], integer(1)),
                                                          (CODES["Event-Timestamp"], integer(now - 30))]),
                       usual(3, more=[(33, b"proxy-1"), (33, b"proxy-2"), (26, b"\x00\x00\x3a\x8c\x01\x05abc")]),
                       usual(1, more=[(CODES["Framed-IPv6-Prefix"], b"\x00\x40" + bytes.fromhex("20010db800010002")),
                                      (CODES["Delegated-IPv6-Prefix"], b"\x00\x38" + bytes.fromhex("20010db8ff0001")),
                                      (CODES["NAS-Port-Id"], b"ether1\x00"), (CODES["NAS-Port"], integer(7))])):
        data = acct_bytes(attributes)
        outcome = by_lean(data)
        assert outcome is not None and outcome[0] == "event"
        assert same(outcome, by_pyrad(data))
    assert by_lean(acct_bytes(usual(1)))[1].status == accounting.START
    assert by_lean(acct_bytes(usual(3)))[1].input_bytes == 2 ** 32 + 123456789


def test_what_pyrad_drops_or_reads_otherwise_is_left_to_pyrad():
    for data in (acct_bytes(usual(1), wrong_authenticator=True),  # wrong secret
                 acct_bytes(usual(1), length_delta=-3),  # the length field says less
                 acct_bytes(usual(1), tail=b"\x2c"),  # an attribute cut short
                 acct_bytes(usual(1), tail=b"\x2c\x01"),  # a length below 2
                 acct_bytes(usual(1), tail=b"\x2c\x09abc"),  # beyond the packet
                 acct_bytes(usual(1), code=radius_packet.StatusServer),
                 acct_bytes(usual(1, more=[(CODES["User-Name"], b"user18")])),  # a second value
                 acct_bytes(usual(1), secret=b"another")):
        assert by_lean(data) is None
    assert by_pyrad(acct_bytes(usual(1), wrong_authenticator=True))[0] == "dropped"


def values(code):
    if code in (CODES["User-Name"], CODES["Acct-Session-Id"], CODES["Calling-Station-Id"], CODES["NAS-Port-Id"]):
        return st.one_of(st.text(max_size=30).map(str.encode), st.binary(max_size=30))
    if code == CODES["Acct-Status-Type"]:
        return st.one_of(st.sampled_from([1, 2, 3, 7, 8, 0, 15]).map(integer), st.binary(max_size=6))
    if code == CODES["Event-Timestamp"]:
        return st.one_of(st.integers(NOW - 400 * 86400, NOW + 400 * 86400).map(integer), st.binary(max_size=6))
    if code in (CODES["Framed-IPv6-Prefix"], CODES["Delegated-IPv6-Prefix"], CODES["Framed-IPv6-Address"],
                CODES["Framed-IP-Address"]):
        return st.binary(max_size=20)
    return st.one_of(st.integers(0, 2 ** 32 - 1).map(integer), st.binary(max_size=6))


attribute = st.sampled_from(sorted(CODES.values()) + [4, 26, 33, 80, 85, 200]).flatmap(
    lambda code: st.tuples(st.just(code), values(code)))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(attribute, max_size=14), st.sampled_from([b"", b"\x2c", b"\x2c\x01", b"\x01\x09ab"]),
       st.sampled_from([0, 0, 0, -2, 3]), st.booleans())
def test_any_accounting_request_is_read_alike_or_left_to_pyrad(attributes, tail, length_delta, wrong):
    data = acct_bytes(attributes, tail=tail, length_delta=length_delta, wrong_authenticator=wrong and not tail)
    lean_outcome = by_lean(data)
    if lean_outcome is not None:
        assert same(lean_outcome, by_pyrad(data))
