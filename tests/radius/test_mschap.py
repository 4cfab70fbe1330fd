"""MS-CHAPv1/v2 and Status-Server, as a NAS sees them: a real `flask radius serve`, asked by pyrad and radclient.

What the server answers is checked against this file's own computation of
MS-CHAP — MD4 written here from RFC 1320 (checked on its test suite) where
the server uses PyCryptodome's, DES from PyCryptodome where the server uses
OpenSSL's through `cryptography` — and the RFC
2759 section 9.2 and RFC 3079 section 3.5.3 vectors: a shared mistake in one
library or one reading of the RFCs cannot pass on both sides.
"""
import hashlib
import os
import shutil
import socket
import struct
import subprocess

import pytest
from Crypto.Cipher import DES
from pyrad import packet as radius_packet

from app.clients.models import Subscription
from app.extensions import db
from app.networks.services import allocate
from app.radius import mschap
from tests.factories import make_network
from tests.radius.test_radius import SECRET, client, nas, start_server, stop_server, subscriber


# --- The test's own MS-CHAP, independent of app.radius.mschap -------------------------------------------------

def md4(message):
    """RFC 1320, written out (the server's MD4 is PyCryptodome's)."""
    def rotate(value, bits):
        value &= 0xFFFFFFFF
        return ((value << bits) | (value >> (32 - bits))) & 0xFFFFFFFF

    state = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476]
    padded = message + b"\x80" + bytes((55 - len(message)) % 64) + struct.pack("<Q", len(message) * 8)
    for start in range(0, len(padded), 64):
        x = struct.unpack("<16I", padded[start:start + 64])
        a, b, c, d = state
        for i in range(16):
            k, s = i, (3, 7, 11, 19)[i % 4]
            a, b, c, d = d, rotate(a + ((b & c) | (~b & d)) + x[k], s), b, c
        for i in range(16):
            k, s = (i % 4) * 4 + i // 4, (3, 5, 9, 13)[i % 4]
            a, b, c, d = d, rotate(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, s), b, c
        for i in range(16):
            k, s = (0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15)[i], (3, 9, 11, 15)[i % 4]
            a, b, c, d = d, rotate(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, s), b, c
        state = [(value + new) & 0xFFFFFFFF for value, new in zip(state, (a, b, c, d))]
    return struct.pack("<4I", *state)


def des(clear, seven):
    """PyCryptodome's DES (the server's is OpenSSL's), with RFC 2759 9.3's parity bits set."""
    bits = int.from_bytes(seven, "big")
    key = bytearray()
    for index in range(8):
        octet = ((bits >> (49 - 7 * index)) & 0x7F) << 1
        key.append(octet | (bin(octet).count("1") % 2 == 0))
    return DES.new(bytes(key), DES.MODE_ECB).encrypt(clear)


def nt_hash(password):
    return md4(password.encode("utf-16-le"))


def nt_response(challenge, password):
    key = nt_hash(password) + bytes(5)
    return b"".join(des(challenge, key[i:i + 7]) for i in (0, 7, 14))


def challenge_hash(peer, authenticator, username):
    return hashlib.sha1(peer + authenticator + username).digest()[:8]


def expected_success(password, response, peer, authenticator, username):
    digest = hashlib.sha1(md4(nt_hash(password)) + response + b"Magic server to client signing constant").digest()
    digest = hashlib.sha1(digest + challenge_hash(peer, authenticator, username)
                          + b"Pad to make it do more than one iteration").digest()
    return "S=" + digest.hex().upper()


def expected_mppe_keys(password, response):
    """(MS-MPPE-Send-Key, MS-MPPE-Recv-Key): the NAS's send key is the server's (RFC 3079 3.4, IsServer)."""
    master = hashlib.sha1(md4(nt_hash(password)) + response + b"This is the MPPE Master Key").digest()[:16]
    server_send = b"On the client side, this is the receive key; on the server side, it is the send key."
    server_receive = b"On the client side, this is the send key; on the server side, it is the receive key."
    return tuple(hashlib.sha1(master + bytes(40) + magic + b"\xf2" * 40).digest()[:16]
                 for magic in (server_send, server_receive))


def test_the_test_md4_and_des_follow_their_standards():
    # RFC 1320 appendix A.5.
    assert md4(b"").hex() == "31d6cfe0d16ae931b73c59d7e0c089c0"
    assert md4(b"abc").hex() == "a448017aaf21d8525fc10ae87aa6729d"
    assert md4(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890").hex() \
        == "e33b4ddc9c38f2199c3e7b164fcc0536"
    # FIPS 81's classic DES vector: key 133457799BBCDFF1, "0123456789ABCDEF" → 85E813540F0AB405.
    key = bytes.fromhex("133457799BBCDFF1")
    seven = int("".join(f"{octet >> 1:07b}" for octet in key), 2).to_bytes(7, "big")
    assert des(bytes.fromhex("0123456789ABCDEF"), seven).hex().upper() == "85E813540F0AB405"


# RFC 2759 section 9.2 (and RFC 3079 section 3.5.3, which continues it).
USER, PASSWORD = b"User", "clientPass"
AUTHENTICATOR_CHALLENGE = bytes.fromhex("5B5D7C7D7B3F2F3E3C2C602132262628")
PEER_CHALLENGE = bytes.fromhex("21402324255E262A28295F2B3A337C7E")
NT_RESPONSE = bytes.fromhex("82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF")


def test_the_rfc_vectors_both_ways():
    # The test's own computation…
    assert challenge_hash(PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER).hex().upper() == "D02E4386BCE91226"
    assert nt_hash(PASSWORD).hex().upper() == "44EBBA8D5312B8D611474411F56989AE"
    assert nt_response(bytes.fromhex("D02E4386BCE91226"), PASSWORD) == NT_RESPONSE
    assert md4(nt_hash(PASSWORD)).hex().upper() == "41C00C584BD2D91C4017A2A12FA59F3F"
    assert expected_success(PASSWORD, NT_RESPONSE, PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER) \
        == "S=407A5589115FD0D6209F510FE9C04566932CDA56"
    assert expected_mppe_keys(PASSWORD, NT_RESPONSE)[0].hex().upper() == "8B7CDC149B993A1BA118CB153F56DCCB"
    # …and the server's.
    keys = mschap.PasswordKeys(PASSWORD)
    assert keys.hash.hex().upper() == "44EBBA8D5312B8D611474411F56989AE"
    assert keys.hash_hash.hex().upper() == "41C00C584BD2D91C4017A2A12FA59F3F"
    assert keys.challenge_response(bytes.fromhex("D02E4386BCE91226")) == NT_RESPONSE
    assert keys.challenge_response(bytes.fromhex("D02E4386BCE91226")) == NT_RESPONSE  # its DES contexts are reused
    login = mschap.MsChap(2, AUTHENTICATOR_CHALLENGE, b"\x01\x00" + PEER_CHALLENGE + bytes(8) + NT_RESPONSE)
    assert login.verify(USER, keys)
    assert login.verify(b"FIRMA\\User", keys)  # the peer hashes the name without its domain
    assert not login.verify(USER, mschap.PasswordKeys("clientpass"))
    hash_hash = keys.hash_hash
    assert mschap.authenticator_response(hash_hash, NT_RESPONSE, PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER) \
        == b"S=407A5589115FD0D6209F510FE9C04566932CDA56"
    master = mschap.master_key(hash_hash, NT_RESPONSE)
    assert master.hex().upper() == "FDECE3717A8C838CB388E527AE3CDD31"
    assert mschap.server_start_keys(master)[0].hex().upper() == "8B7CDC149B993A1BA118CB153F56DCCB"
    # RFC 2759 9.3: DES ignores the parity bits, so the parity-corrected key gives what the raw one gives.
    raw = bytes.fromhex("FC156AF7EDCD6C")
    assert mschap.des_encrypt(b"12345678", raw) == des(b"12345678", raw)


def test_the_rfc_2433_vector_of_ms_chap_v1():
    challenge = bytes.fromhex("102DB5DF085D3041")
    expected = bytes.fromhex("4E9D3C8F9CFD385D5BF4D3246791956CA4C351AB409A3D61")
    assert nt_hash("MyPw").hex().upper() == "FC156AF7EDCD6C0EDDE3337D427F4EAC"
    assert nt_response(challenge, "MyPw") == expected
    login = mschap.MsChap(1, challenge, b"\x03\x01" + bytes(24) + expected)
    assert login.verify(b"anyone", mschap.PasswordKeys("MyPw"))  # v1 hashes no user name
    assert not login.verify(b"anyone", mschap.PasswordKeys("MyPW"))
    lm_only = mschap.MsChap(1, challenge, b"\x03\x00" + bytes(24) + expected)
    assert not lm_only.verify(b"anyone", mschap.PasswordKeys("MyPw"))  # flags 0: the LAN Manager response only
    # The LAN Manager hash behind MS-CHAPv1's LM-Key, RFC 3079 section 2.5's value.
    assert mschap.lm_password_hash("clientPass").hex().upper() == "76A152936096D7830E2390227404AFD2"


def test_the_mppe_keys_are_encrypted_as_rfc_2548_says():
    """Decrypted by pyrad (the salt method of RFC 2868, which RFC 2548 uses for the MPPE keys) and by this
    test's own reading of the User-Password method for MS-CHAP-MPPE-Keys."""
    secret, request_authenticator, key = b"s3cret", os.urandom(16), os.urandom(16)
    value = mschap.salt_encrypt(key, secret, request_authenticator, b"\x81\x02")
    assert value[:2] == b"\x81\x02" and len(value) == 2 + 32
    reader = radius_packet.Packet(code=radius_packet.AccessAccept, secret=secret)
    reader.request_authenticator = request_authenticator
    assert reader.SaltDecrypt(value) == key
    plain = os.urandom(32)
    hidden = mschap.password_encrypt(plain, secret, request_authenticator)
    assert password_decrypt(hidden, secret, request_authenticator) == plain


def password_decrypt(hidden, secret, request_authenticator):
    plain, last = b"", request_authenticator
    for start in range(0, len(hidden), 16):
        block = hidden[start:start + 16]
        plain += bytes(a ^ b for a, b in zip(block, hashlib.md5(secret + last).digest()))
        last = block
    return plain


# --- Against the server process ---------------------------------------------------------------------------------

@pytest.fixture(params=["lean", "pyrad"])
def radius(app, request):
    """The server answering MS-CHAP on the lean path (the default) and on pyrad's (RADIUS_LEAN=0)."""
    server = start_server(app, **({"RADIUS_LEAN": "0"} if request.param == "pyrad" else {}))
    yield server
    stop_server(server)


def mschap_v2(server, username, password, ident=0x2A):
    """An MS-CHAPv2 login as a NAS relays it: (request, reply, the challenges and the NT-Response sent)."""
    radius_client = client(server)
    # Every MS-CHAPv2 login here is answered (accepted or rejected): waiting longer costs nothing when the reply
    # comes, and a loaded machine once took over 2 s to answer on the pyrad path.
    radius_client.timeout = 6
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=username)
    request.add_message_authenticator()
    authenticator_challenge, peer_challenge = os.urandom(16), os.urandom(16)
    response = nt_response(challenge_hash(peer_challenge, authenticator_challenge, username.encode()), password)
    request["MS-CHAP-Challenge"] = authenticator_challenge
    request["MS-CHAP2-Response"] = bytes((ident, 0)) + peer_challenge + bytes(8) + response
    reply = radius_client.SendPacket(request)
    assert request.VerifyReply(reply, enforce_ma=True)
    return reply, authenticator_challenge, peer_challenge, response


def mschap_v1(server, username, password, ident=0x11):
    radius_client = client(server)
    request = radius_client.CreateAuthPacket(code=radius_packet.AccessRequest, User_Name=username)
    request.add_message_authenticator()
    challenge = os.urandom(8)
    request["MS-CHAP-Challenge"] = challenge
    request["MS-CHAP-Response"] = bytes((ident, 1)) + bytes(24) + nt_response(challenge, password)
    reply = radius_client.SendPacket(request)
    assert request.VerifyReply(reply, enforce_ma=True)
    return request, reply


def test_mschap_v2_is_accepted_with_the_right_password_and_rejected_with_a_wrong_one(app, radius):
    with app.app_context():
        nas(vendor="mikrotik")
        subscription_id = subscriber()
        make_network("10.30.0.0/29", "Клиенти MS-CHAP")
        allocate(1, subscription_id=subscription_id)
        db.session.commit()
    reply, authenticator_challenge, peer_challenge, response = mschap_v2(radius, "ivan", "parola-123")
    assert reply.code == radius_packet.AccessAccept
    assert reply["Framed-IP-Address"] == ["10.30.0.1"] and reply["Mikrotik-Rate-Limit"] == ["5000k/20000k"]
    # The device checks this before it keeps the link up: computed here independently.
    assert reply["MS-CHAP2-Success"] == [b"\x2a" + expected_success(
        "parola-123", response, peer_challenge, authenticator_challenge, b"ivan").encode()]
    send_key, receive_key = expected_mppe_keys("parola-123", response)
    assert reply["MS-MPPE-Send-Key"] == [send_key] and reply["MS-MPPE-Recv-Key"] == [receive_key]
    assert reply["MS-MPPE-Encryption-Policy"] == [1] and reply["MS-MPPE-Encryption-Types"] == [6]

    reply = mschap_v2(radius, "ivan", "parola-124", ident=0x2B)[0]
    assert reply.code == radius_packet.AccessReject
    (error,) = reply["MS-CHAP-Error"]
    assert error[:1] == "\x2b"  # the ident of the response
    code, retry, challenge, version = error[1:].split(" ")
    assert (code, retry, version) == ("E=691", "R=1", "V=3")
    assert challenge.startswith("C=") and len(challenge) == 2 + 32 and int(challenge[2:], 16) >= 0
    assert "MS-CHAP2-Success" not in reply and "MS-MPPE-Send-Key" not in reply
    assert mschap_v2(radius, "nobody", "parola-123")[0].code == radius_packet.AccessReject


def test_mschap_v1_is_accepted_with_the_right_password_and_rejected_with_a_wrong_one(app, radius):
    with app.app_context():
        nas(vendor="cisco")
        subscriber()
    request, reply = mschap_v1(radius, "ivan", "parola-123")
    assert reply.code == radius_packet.AccessAccept
    assert any("rate-limit output 20000000" in pair for pair in reply["Cisco-AVPair"])
    (keys,) = reply["MS-CHAP-MPPE-Keys"]
    plain = password_decrypt(keys, SECRET, request.authenticator)
    # LM-Key (the first half of the LAN Manager hash of "PAROLA-123"), NT-Key (the NT hash's hash), padding.
    lm_half = des(b"KGS!@#$%", b"PAROLA-")
    assert plain == lm_half + md4(nt_hash("parola-123")) + bytes(8)
    assert "MS-CHAP2-Success" not in reply

    request, reply = mschap_v1(radius, "ivan", "Parola-123", ident=0x12)
    assert reply.code == radius_packet.AccessReject
    assert reply["MS-CHAP-Error"] == ["\x12E=691 R=1"]


def test_mschap_tells_a_subscriber_who_may_not_log_in_why(app, radius):
    with app.app_context():
        nas()
        subscriber("suspended", status="suspended")
        bound = db.session.get(Subscription, subscriber("bound"))
        bound.mac_address = "AA:BB:CC:00:11:22"
        db.session.commit()
    reply = mschap_v2(radius, "suspended", "parola-123", ident=7)[0]
    assert reply.code == radius_packet.AccessReject and reply["MS-CHAP-Error"][0].startswith("\x07E=647 R=0 C=")
    reply = mschap_v2(radius, "bound", "parola-123", ident=8)[0]
    assert reply.code == radius_packet.AccessReject and reply["MS-CHAP-Error"][0].startswith("\x08E=649 R=0 C=")
    # A wrong password says no more than that.
    assert mschap_v2(radius, "suspended", "wrong", ident=9)[0]["MS-CHAP-Error"][0].startswith("\x09E=691 R=1")


def test_a_suspended_subscriber_with_mschap_enters_the_walled_garden_with_a_success(app, radius):
    with app.app_context():
        nas(walled_garden_pool="debtors")
        subscriber("suspended", status="suspended")
    reply, authenticator_challenge, peer_challenge, response = mschap_v2(radius, "suspended", "parola-123")
    assert reply.code == radius_packet.AccessAccept and reply["Framed-Pool"] == ["debtors"]
    assert reply["MS-CHAP2-Success"] == [b"\x2a" + expected_success(
        "parola-123", response, peer_challenge, authenticator_challenge, b"suspended").encode()]


def radclient(server, command, attributes="", port=None, secret=SECRET):
    if shutil.which("radclient") is None:
        pytest.fail("radclient (Debian freeradius-utils) is needed") if os.environ.get("CI") else pytest.skip(
            "no radclient")
    result = subprocess.run(
        ["radclient", "-x", "-r", "1", "-t", "2", f"127.0.0.1:{port or server.auth_port}", command, secret.decode()],
        input=attributes, capture_output=True, text=True, timeout=20)
    return result.stdout + result.stderr


def test_radclient_logs_in_with_ms_chap_password(app, radius):
    with app.app_context():
        nas()
        subscriber()
    # radclient turns MS-CHAP-Password into an MS-CHAPv1 challenge and response.
    accepted = radclient(radius, "auth", 'User-Name = "ivan", MS-CHAP-Password = "parola-123", '
                                         'Message-Authenticator = 0x00\n')
    assert "Access-Accept" in accepted and "MS-CHAP-MPPE-Keys" in accepted, accepted
    rejected = radclient(radius, "auth", 'User-Name = "ivan", MS-CHAP-Password = "wrong", '
                                         'Message-Authenticator = 0x00\n')
    assert "Access-Reject" in rejected and "E=691" in rejected, rejected


# --- Status-Server (RFC 5997) -------------------------------------------------------------------------------

@pytest.fixture
def server(app):
    """One server process (Status-Server takes the same path, lean or not)."""
    server = start_server(app)
    yield server
    stop_server(server)


def status_server(server, port, source="127.0.0.1", secret=SECRET, accounting=False):
    """A Status-Server with a Message-Authenticator from `source`; the verified reply's code, None if none came."""
    packet_class = radius_packet.AcctPacket if accounting else radius_packet.AuthPacket
    request = packet_class(code=radius_packet.StatusServer, secret=secret, dict=client(server).dict)
    request.add_message_authenticator()
    raw = request.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(1.5)
        sock.sendto(raw, ("127.0.0.1", port))
        try:
            answer = sock.recv(4096)
        except TimeoutError:
            return None
    reply = request.CreateReply(packet=answer)
    assert request.VerifyReply(reply, answer, enforce_ma=True)  # signed with a Message-Authenticator
    return reply.code


def test_status_server_is_answered_on_both_ports_only_from_a_known_nas(app, server):
    radius = server
    with app.app_context():
        nas()  # 127.0.0.1 only
    assert status_server(radius, radius.auth_port) == radius_packet.AccessAccept
    assert status_server(radius, radius.acct_port, accounting=True) == radius_packet.AccountingResponse
    # radclient's own health check, on both ports.
    assert "Received Access-Accept" in radclient(radius, "status", "Message-Authenticator = 0x00\n")
    assert "Received Accounting-Response" in radclient(radius, "status", "Message-Authenticator = 0x00\n",
                                                       port=radius.acct_port)
    # Another address (not a NAS), or the NAS with a wrong secret: no answer at all.
    for port in radius.auth_port, radius.acct_port:
        assert status_server(radius, port, source="127.0.0.2") is None
        assert status_server(radius, port, secret=b"wrong-secret-1") is None
    # Still answering the logins.
    with app.app_context():
        subscriber()
    assert mschap_v2(radius, "ivan", "parola-123")[0].code == radius_packet.AccessAccept


def test_a_status_server_without_message_authenticator_is_dropped(app, server):
    with app.app_context():
        nas(require_ma=False)  # RFC 5997 requires it of every Status-Server, whatever the NAS's setting
    bare = struct.pack("!BBH", radius_packet.StatusServer, 1, 20) + os.urandom(16)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1.5)
        for port in server.auth_port, server.acct_port:
            sock.sendto(bare, ("127.0.0.1", port))
            with pytest.raises(TimeoutError):
                sock.recv(4096)
    assert status_server(server, server.auth_port) == radius_packet.AccessAccept
