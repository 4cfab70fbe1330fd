"""The lean Access-Request path answers exactly what the pyrad path answers, as a NAS reads the reply."""
import hashlib
import os
import types
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrad import packet as radius_packet

from app.radius import auth, lean, load_dictionary
from app.radius.server import NasInfo, Request

DICTIONARY = load_dictionary()
SECRET = b"lean-secret-123"
TODAY = date(2026, 12, 1)


def nas(vendor="mikrotik", pool=None, message=None, require_message_authenticator=False):
    return NasInfo(1, "NAS", SECRET, vendor, require_message_authenticator, pool, message)


def subscription(password="parola-123", status="active", mac=None, addresses=("10.0.0.7",), frozen=False):
    data = auth.AuthData(types.SimpleNamespace(id=7, username="ivan", service_id=3, password=password, status=status,
                                               mac_address=mac, download_kbps=20000, upload_kbps=5000))
    data.addresses = list(addresses)
    data.parameters = [("Session-Timeout", "86400")]
    if frozen:
        data.freezes = [(TODAY, TODAY)]
    return data


def request_bytes(username, password, chap=False, challenge=True, mac=None, proxy_states=(), extra=(),
                  message_authenticator=True):
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
    else:
        request["User-Password"] = request.PwCrypt(password)
    for state in proxy_states:
        request.AddAttribute("Proxy-State", state)
    for code, value in extra:
        request[code] = [value]
    if message_authenticator:
        request.add_message_authenticator()
    return request, request.RequestPacket()


def both_answers(app, raw, data, nas_info):
    """(lean reply bytes, pyrad reply bytes) to the same request bytes."""
    source = ("192.0.2.1", 3000)
    with app.app_context():
        lean_request = lean.parse(raw, nas_info, source)
        assert lean_request is not None
        lean_raw = auth.lean_reply(lean_request, data, TODAY, 300, DICTIONARY)
        packet = radius_packet.AuthPacket(packet=raw, secret=SECRET, dict=DICTIONARY)
        pyrad_raw = auth.decide(Request(packet, nas_info, source), data, TODAY).ReplyPacket()
    return lean_raw, pyrad_raw


def as_the_nas_reads(request, raw):
    """The reply's code and attributes, after the checks a NAS makes (authenticator, Message-Authenticator)."""
    reply = request.CreateReply(packet=raw)
    assert request.VerifyReply(reply, raw, enforce_ma=True)
    return reply.code, {key: reply[key] for key in reply.keys() if key != "Message-Authenticator"}


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
    request, raw = request_bytes("ivan", "parola-123", chap=True)
    garden = nas(pool="debtors", message="Платете в офиса, " * 20)
    lean_raw, pyrad_raw = both_answers(app, raw, subscription(status="suspended"), garden)
    code, attributes = as_the_nas_reads(request, lean_raw)
    assert code == radius_packet.AccessAccept and attributes["Framed-Pool"] == ["debtors"]
    assert (code, attributes) == as_the_nas_reads(request, pyrad_raw)
    lean_raw, pyrad_raw = both_answers(app, raw, None, garden)
    assert as_the_nas_reads(request, lean_raw) == as_the_nas_reads(request, pyrad_raw) == (
        radius_packet.AccessReject, {})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(username=st.text(min_size=1, max_size=60).filter(lambda text: "\x00" not in text and len(text.encode()) <= 60),
       password=st.text(min_size=1, max_size=40).filter(lambda text: "\x00" not in text and text.strip() == text),
       typed_right=st.booleans(), chap=st.booleans(), status=st.sampled_from(["active", "suspended", "terminated"]))
def test_any_username_and_password_are_answered_alike(app, username, password, typed_right, chap, status):
    typed = password if typed_right else password + "x"
    request, raw = request_bytes(username, typed, chap=chap)
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
