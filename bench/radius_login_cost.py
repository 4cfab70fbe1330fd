"""The in-process cost of one login (no network, no database): lean.parse + auth.answer from a cache.

    .venv/bin/python bench/radius_login_cost.py

256 PAP Access-Requests (with Calling-Station-Id and NAS-Port) for 256 cached subscriptions under
Simultaneous-Use 1 with no session open (the usual login: nothing read from the database), answered as the
server's batch does; prints µs per login, the best of 7 rounds.
"""
import os
import sys
import timeit
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pyrad import packet as radius_packet  # noqa: E402

from app import create_app  # noqa: E402
from app.radius import auth, lean, load_dictionary  # noqa: E402
from app.radius.server import NasInfo  # noqa: E402

SECRET = b"bench-secret-123"
COUNT = 256


def main():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "bench", "TESTING": True})
    dictionary = load_dictionary()
    nas = NasInfo(1, "NAS", SECRET, "mikrotik", False)
    cache = types.SimpleNamespace(by_username={})
    cache.get_many = lambda names: {name: cache.by_username[name] for name in names if name in cache.by_username}
    raws = []
    for number in range(COUNT):
        row = types.SimpleNamespace(id=number, username=f"user{number}", service_id=1, password=f"pw{number}",
                                    status="active", mac_address=None, download_kbps=20000, upload_kbps=5000,
                                    simultaneous_use=None, service_simultaneous_use=1)
        data = auth.AuthData(row)
        data.addresses = [f"10.0.{number // 250}.{number % 250 + 1}"]
        cache.by_username[row.username] = data
        request = radius_packet.AuthPacket(code=radius_packet.AccessRequest, id=number % 256, secret=SECRET,
                                           dict=dictionary, authenticator=os.urandom(16))
        request["User-Name"] = row.username
        request["User-Password"] = request.PwCrypt(row.password)
        request["NAS-Port"] = number
        request["Calling-Station-Id"] = f"AA:BB:CC:00:{number // 256:02X}:{number % 256:02X}"
        raws.append(request.RequestPacket())
    source = ("127.0.0.1", 3000)
    with app.app_context():
        def batch():
            requests = [lean.parse(raw, nas, source) for raw in raws]
            replies = auth.answer(requests, cache, dictionary)
            assert len(replies) == COUNT and all(reply[0][0] == radius_packet.AccessAccept for reply in replies)
        batch()
        best = min(timeit.repeat(batch, number=20, repeat=7)) / 20 / COUNT
    print(f"{best * 1e6:.1f} µs per login (lean path, from the cache)")


if __name__ == "__main__":
    main()
