"""MS-CHAPv1 and MS-CHAPv2 over RADIUS: verifying the peer's response, and what the Access-Accept or -Reject says.

The NAS (MikroTik PPP, Cisco, accel-ppp…) talks MS-CHAP with the subscriber's
device and hands us the challenge and the response in Microsoft's attributes
(RFC 2548): MS-CHAP-Challenge with MS-CHAP-Response (v1, RFC 2433) or
MS-CHAP2-Response (v2, RFC 2759). We check the NT-Response against the
subscription's password and answer
- on success: MS-CHAP2-Success with the authenticator response (v2: the
  device checks it and hangs up without it — it proves we know the password
  too), and the MPPE keys the NAS encrypts the link with: MS-MPPE-Send-Key and
  MS-MPPE-Recv-Key (v2, RFC 3079), MS-CHAP-MPPE-Keys (v1), both encrypted with
  the NAS's secret as RFC 2548 says; plus the encryption policy "allowed, 40
  or 128 bits", as FreeRADIUS's rlm_mschap does by default;
- on failure: MS-CHAP-Error, "E=691" for a wrong password or unknown user,
  "E=647" for a subscription that may not log in (Windows says "account
  disabled"), "E=649" for a subscription bound to another device.

Only the NT-Response is accepted: an MS-CHAPv1 response carrying only the
LAN Manager response (flags 0) is rejected — that hash is broken and no
current client sends it alone. Password change (MS-CHAP-CPW-*) is not
offered: the subscriber's password is the office's to set.

Primitives, and why these:
- MD4 (the NT password hash) from PyCryptodome (`pycryptodome` on PyPI,
  maintained, written in C): OpenSSL 3 moved MD4 to its "legacy" provider,
  so hashlib.new("md4") fails on current Debian/Ubuntu, and `cryptography`
  has no MD4. It runs once per subscription: PasswordKeys is cached with
  the login cache's AuthData.
- DES from `cryptography` (OpenSSL's, already a dependency through
  pyOpenSSL): three-key TripleDES with the key repeated three times is
  single DES, in OpenSSL 3's default provider (single DES is in the legacy
  one). Its ECB contexts are made once per subscription and reused: about
  1 µs a block, where PyCryptodome spends 5 µs a call in its C binding and
  16 µs making a cipher.
Both are checked against the RFC 2759 section 9 and RFC 3079 section 3.5
vectors, and the server's answers against the tests' own MD4 and
PyCryptodome's DES (tests/radius/test_mschap.py).
"""
import hashlib
import hmac
import os
import random
import struct

from Crypto.Hash import MD4
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

MICROSOFT = 311  # the vendor number of Microsoft's attributes (RFC 2548)
CHAP_RESPONSE, CHAP_ERROR = 1, 2
MPPE_ENCRYPTION_POLICY, MPPE_ENCRYPTION_TYPES = 7, 8
CHAP_CHALLENGE, CHAP_MPPE_KEYS = 11, 12
MPPE_SEND_KEY, MPPE_RECV_KEY = 16, 17
CHAP2_RESPONSE, CHAP2_SUCCESS = 25, 26
# What a login reads; any other Microsoft attribute (a password change) is left to the pyrad path, which
# rejects it.
READ = frozenset({CHAP_RESPONSE, CHAP_CHALLENGE, CHAP2_RESPONSE})

ENCRYPTION_ALLOWED = struct.pack("!I", 1)
RC4_40_OR_128 = struct.pack("!I", 6)

# The errors of RFC 2759 section 6 a login can end with.
AUTHENTICATION_FAILURE, ACCOUNT_DISABLED, NO_DIALIN_PERMISSION = 691, 647, 649

# RFC 2759 section 8.7 and RFC 3079 section 3.4.
MAGIC_SERVER = b"Magic server to client signing constant"
MAGIC_PAD = b"Pad to make it do more than one iteration"
MAGIC_MASTER = b"This is the MPPE Master Key"
MAGIC_CLIENT_SEND = (b"On the client side, this is the send key; "
                     b"on the server side, it is the receive key.")
MAGIC_SERVER_SEND = (b"On the client side, this is the receive key; "
                     b"on the server side, it is the send key.")
SHS_PAD1, SHS_PAD2 = bytes(40), b"\xf2" * 40
LM_MAGIC = b"KGS!@#$%"


def nt_password_hash(password):
    """NtPasswordHash (RFC 2759 8.3): MD4 of the password in UTF-16LE."""
    return MD4.new(password.encode("utf-16-le", errors="surrogatepass")).digest()


def hash_nt_password_hash(password_hash):
    """HashNtPasswordHash (RFC 2759 8.4)."""
    return MD4.new(password_hash).digest()


def lm_password_hash(password):
    """The LAN Manager hash, only for MS-CHAPv1's LM-Key (RFC 2433 A.2; FreeRADIUS's smbdes_lmpwdhash)."""
    typed = password.encode()[:14].upper().ljust(14, b"\0")
    return des_encrypt(LM_MAGIC, typed[:7]) + des_encrypt(LM_MAGIC, typed[7:])


def _des(seven):
    """A DES encryptor (ECB: reusable for any number of blocks) of a 7-octet key: the 56 key bits spread over
    8 octets, the parity bit (the lowest) left 0, as DES ignores it (RFC 2759 8.6)."""
    bits = int.from_bytes(seven, "big")
    key = bytes(((bits >> shift) & 0x7F) << 1 for shift in range(49, -1, -7))
    return Cipher(TripleDES(key * 3), modes.ECB()).encryptor()


def des_encrypt(clear, seven):
    return _des(seven).update(clear)


def challenge_response(challenge, password_hash):
    """ChallengeResponse (RFC 2759 8.5): three DES encryptions of the 8-octet challenge."""
    return PasswordKeys.of_hash(password_hash).challenge_response(challenge)


class PasswordKeys:
    """What MS-CHAP needs of one password, made once per subscription (app.radius.auth.AuthData keeps it)."""

    __slots__ = ("password", "hash", "hash_hash", "_ciphers", "_lm_key")

    def __init__(self, password):
        self.password = password
        self._set(nt_password_hash(password))

    @classmethod
    def of_hash(cls, password_hash):
        keys = cls.__new__(cls)
        keys.password = None
        keys._set(password_hash)
        return keys

    def _set(self, password_hash):
        self.hash = password_hash
        self.hash_hash = hash_nt_password_hash(password_hash)
        key = password_hash + bytes(5)
        self._ciphers = tuple(_des(key[start:start + 7]) for start in (0, 7, 14))
        self._lm_key = None

    def challenge_response(self, challenge):
        first, second, third = self._ciphers
        return first.update(challenge) + second.update(challenge) + third.update(challenge)

    @property
    def lm_key(self):
        """The first half of the LAN Manager hash (MS-CHAPv1's LM-Key); zeros without the password."""
        if self._lm_key is None:
            self._lm_key = lm_password_hash(self.password)[:8] if self.password is not None else bytes(8)
        return self._lm_key


def challenge_hash(peer_challenge, authenticator_challenge, username):
    """ChallengeHash (RFC 2759 8.2)."""
    return hashlib.sha1(peer_challenge + authenticator_challenge + username).digest()[:8]


def authenticator_response(password_hash_hash, nt_response, peer_challenge, authenticator_challenge, username):
    """GenerateAuthenticatorResponse (RFC 2759 8.7): "S=" and 40 upper-case hexadecimal digits."""
    digest = hashlib.sha1(password_hash_hash + nt_response + MAGIC_SERVER).digest()
    challenge = challenge_hash(peer_challenge, authenticator_challenge, username)
    return b"S=" + hashlib.sha1(digest + challenge + MAGIC_PAD).hexdigest().upper().encode()


def master_key(password_hash_hash, nt_response):
    """GetMasterKey (RFC 3079 3.4)."""
    return hashlib.sha1(password_hash_hash + nt_response + MAGIC_MASTER).digest()[:16]


def server_start_keys(master):
    """(send key, receive key) of the server's side, 128 bits (RFC 3079 3.4 GetAsymmetricStartKey, IsServer):
    the NAS encrypts what it sends with the first (MS-MPPE-Send-Key, RFC 2548 2.4.2)."""
    send = hashlib.sha1(master + SHS_PAD1 + MAGIC_SERVER_SEND + SHS_PAD2).digest()[:16]
    receive = hashlib.sha1(master + SHS_PAD1 + MAGIC_CLIENT_SEND + SHS_PAD2).digest()[:16]
    return send, receive


def salt_encrypt(key, secret, request_authenticator, salt):
    """MS-MPPE-Send-Key/Recv-Key's value (RFC 2548 2.4.2): the salt, then the key's length, the key and zero
    padding to 16-octet blocks, each block XORed with MD5(secret + the previous cipher block), the first
    with MD5(secret + Request Authenticator + salt)."""
    plain = bytes((len(key),)) + key
    plain += bytes(-len(plain) % 16)
    return salt + _chained_xor(plain, secret, request_authenticator + salt)


def password_encrypt(plain, secret, request_authenticator):
    """MS-CHAP-MPPE-Keys's value (RFC 2548 2.4.1): User-Password's method (RFC 2865 5.2)."""
    return _chained_xor(plain + bytes(-len(plain) % 16), secret, request_authenticator)


def _chained_xor(plain, secret, first):
    cipher, last = b"", first
    for start in range(0, len(plain), 16):
        mask = hashlib.md5(secret + last).digest()
        last = (int.from_bytes(plain[start:start + 16], "big") ^ int.from_bytes(mask, "big")).to_bytes(16, "big")
        cipher += last
    return cipher


_SALT_NUMBERS = random.Random(os.urandom(16))  # a salt needs to be unique, not secret: no system call a login


def _salts():
    """Two different salts with the top bit set (RFC 2548: each salt in a packet unique)."""
    first = _SALT_NUMBERS.getrandbits(16) | 0x8000
    second = first ^ 0x0001
    return _SALT.pack(first), _SALT.pack(second)


_SALT = struct.Struct("!H")
# RFC 3079 3.4's constant tails of the send and receive keys' SHA-1 (the master key comes first).
_SERVER_SEND_TAIL = SHS_PAD1 + MAGIC_SERVER_SEND + SHS_PAD2
_SERVER_RECEIVE_TAIL = SHS_PAD1 + MAGIC_CLIENT_SEND + SHS_PAD2
_ZERO_KEY_TAIL = bytes(15)  # a 16-octet key's padding to two blocks, after its length octet


def _vendor_header(number, value_length):
    return struct.pack("!BBIBB", 26, value_length + 8, MICROSOFT, number, value_length + 2)


# The parts of an MS-CHAPv2 Accept that never change: the headers of its fixed-length values, and the policy.
_SUCCESS_HEADER = _vendor_header(CHAP2_SUCCESS, 43)  # ident, "S=" and 40 hexadecimal digits
_RECV_KEY_HEADER = _vendor_header(MPPE_RECV_KEY, 34)  # salt, then two encrypted blocks
_SEND_KEY_HEADER = _vendor_header(MPPE_SEND_KEY, 34)
_POLICY = (_vendor_header(MPPE_ENCRYPTION_POLICY, 4) + ENCRYPTION_ALLOWED
           + _vendor_header(MPPE_ENCRYPTION_TYPES, 4) + RC4_40_OR_128)


def _key_value(key, secret, request_authenticator, salt):
    """`salt_encrypt` of a 16-octet key, written out (two blocks): what every MS-CHAPv2 Accept sends twice."""
    md5 = hashlib.md5
    first = (int.from_bytes(md5(secret + request_authenticator + salt).digest(), "big")
             ^ int.from_bytes(b"\x10" + key[:15], "big")).to_bytes(16, "big")
    second = (int.from_bytes(md5(secret + first).digest(), "big")
              ^ int.from_bytes(key[15:] + _ZERO_KEY_TAIL, "big")).to_bytes(16, "big")
    return salt + first + second


class MsChap:
    """An MS-CHAP login as the Access-Request carries it."""

    __slots__ = ("version", "challenge", "response", "_hashed")

    def __init__(self, version, challenge, response):
        self.version, self.challenge, self.response = version, challenge, response
        self._hashed = None  # (user name, its ChallengeHash): `verify` makes it, `success` needs it again

    @property
    def ident(self):
        return self.response[:1]

    def _well_formed(self):
        return len(self.response) == 50 and len(self.challenge) == (8 if self.version == 1 else 16)

    def _challenge(self, username):
        if self.version == 1:
            return self.challenge
        if self._hashed is None or self._hashed[0] != username:
            self._hashed = (username, challenge_hash(self.response[2:18], self.challenge, _without_domain(username)))
        return self._hashed[1]

    def verify(self, username, keys):
        """Whether the NT-Response was made from this password (RFC 2433 A.5, RFC 2759 8.1); `keys` are its
        PasswordKeys."""
        if not self._well_formed() or (self.version == 1 and not self.response[1] & 1):
            return False
        expected = keys.challenge_response(self._challenge(username))
        return hmac.compare_digest(expected, self.response[26:50])

    def success(self, username, keys, secret, request_authenticator):
        """The Microsoft Vendor-Specific attributes' bytes of the Access-Accept of a verified login."""
        nt_response = self.response[26:50]
        hash_hash = keys.hash_hash
        if self.version == 1:
            # LM-Key, NT-Key and padding. The NT-Key is the hash of the hash, not the hash RFC 2548 names:
            # what Windows and every NAS use (RFC 3079 2.4; FreeRADIUS does the same).
            keys = keys.lm_key + hash_hash + bytes(8)
            return encode_vendor_attributes([(CHAP_MPPE_KEYS, password_encrypt(keys, secret, request_authenticator))]) \
                + _POLICY
        # authenticator_response, master_key, server_start_keys and salt_encrypt (each tested on the RFCs'
        # vectors), written out for the login's path: the ChallengeHash of `verify` reused, one SHA-1 each.
        sha1 = hashlib.sha1
        known = hash_hash + nt_response
        digest = sha1(known + MAGIC_SERVER).digest()
        answer = sha1(digest + self._challenge(username) + MAGIC_PAD).hexdigest().upper().encode()
        master = sha1(known + MAGIC_MASTER).digest()[:16]
        send = sha1(master + _SERVER_SEND_TAIL).digest()[:16]
        receive = sha1(master + _SERVER_RECEIVE_TAIL).digest()[:16]
        send_salt, receive_salt = _salts()
        return (_SUCCESS_HEADER + self.ident + b"S=" + answer
                + _RECV_KEY_HEADER + _key_value(receive, secret, request_authenticator, receive_salt)
                + _SEND_KEY_HEADER + _key_value(send, secret, request_authenticator, send_salt) + _POLICY)

    def failure(self, error):
        """The Microsoft Vendor-Specific attribute's bytes of the Access-Reject: MS-CHAP-Error (RFC 2759
        section 6)."""
        retry = 1 if error == AUTHENTICATION_FAILURE else 0
        text = f"E={error} R={retry}"
        if self.version == 2:
            # A new challenge for the retry, as RFC 2759 requires it present (32 hexadecimal digits).
            text += f" C={os.urandom(16).hex().upper()} V=3"
        return encode_vendor_attributes([(CHAP_ERROR, self.ident + text.encode())])


def read(challenges, v1_responses, v2_responses):
    """The MsChap of an Access-Request's Microsoft attributes (lists of raw values), or None when it has none
    (or an ambiguous mix: one challenge and one response, of one version)."""
    if len(challenges) != 1 or len(v1_responses) + len(v2_responses) != 1:
        return None
    if v1_responses:
        return MsChap(1, challenges[0], v1_responses[0])
    return MsChap(2, challenges[0], v2_responses[0])


def _without_domain(username):
    """The user name without a Windows domain ("FIRMA\\ivan" → "ivan"): what the peer hashes (RFC 2759 4)."""
    _domain, backslash, name = username.partition(b"\\")
    return name if backslash else username


def encode_vendor_attributes(attributes):
    """The Vendor-Specific attributes' bytes of [(Microsoft attribute number, value)], one in each (as pyrad
    writes them)."""
    return b"".join(struct.pack("!BBIBB", 26, len(value) + 8, MICROSOFT, number, len(value) + 2) + value
                    for number, value in attributes)
