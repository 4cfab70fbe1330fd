"""No API answer carries a secret: every operation of the published spec, walked as the administrator.

Passwords, RADIUS shared secrets, one-time-code keys and tokens are
taken by the API but never answered — not their hashes either. The walk
reads the app's own spec (/api/v1/_openapi), so an API added later is
walked too: each list, each record of it, a PUT of a record with its own
values (and a new secret where the body takes one), and a POST of a copy.
"""
import re
from itertools import count

from tests.conftest import api_token

SECRET_NAME = re.compile(r"password|secret|totp|token", re.I)
HASH_LIKE = re.compile(r"^(scrypt:|pbkdf2:|\$2[aby]\$|\$argon2|argon2)")
SENT_SECRET = "Walk-secret-4821"
# The JWT login answers tokens: that is its job, and it is not a record.
NOT_RECORDS = ("/api/v1/security/",)


def secrets_in(value, path="$"):
    """Where a secret-named field has a value, or any value looks like a password hash (or is the one sent)."""
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_NAME.search(str(key)) and item not in (None, "", [], {}):
                found.append(f"{path}.{key}")
            found += secrets_in(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secrets_in(item, f"{path}[{index}]")
    elif isinstance(value, str) and (HASH_LIKE.match(value) or SENT_SECRET in value):
        found.append(f"{path} = {value[:20]}…")
    return found


def resolve(spec, schema):
    while isinstance(schema, dict) and "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema or {}


def body_schema(spec, operation):
    content = (operation.get("requestBody") or {}).get("content", {})
    return resolve(spec, content.get("application/json", {}).get("schema"))


def as_sent(value):
    """A value as answered (a related record as an object) → as a body names it (by its id)."""
    if isinstance(value, dict):
        return value.get("id")
    if isinstance(value, list):
        return [item.get("id") if isinstance(item, dict) else item for item in value]
    return value


def body_from(spec, schema, record, unique):
    """A body for the schema: the record's own values, a new secret, and new values for unique text."""
    body = {}
    for name, field in (schema.get("properties") or {}).items():
        field = resolve(spec, field)
        if field.get("readOnly"):
            continue
        if SECRET_NAME.search(name):
            body[name] = SENT_SECRET
        elif name in record:
            body[name] = as_sent(record[name])
            if unique is not None and isinstance(body[name], str) and body[name]:
                body[name] = f"{unique}@walk.bg" if "mail" in name else f"{body[name][:40]}-walk{unique}"
    return body


def test_no_api_answer_carries_a_password_hash_or_a_secret(app):
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(client)}"
    spec = client.get("/api/v1/_openapi").json
    leaks, walked, written, serial = [], set(), set(), count(1)

    def check(method, url, answer, template=None):
        walked.add(f"{method} {template or url}")
        if answer.is_json:
            leaks.extend(f"{method} {url} → {where}" for where in secrets_in(answer.json))
        return answer

    for path, operations in sorted(spec["paths"].items()):
        url = "/api/v1" + path if not path.startswith("/api/") else path
        if url.startswith(NOT_RECORDS) or "{" in url or url.endswith("/_info"):
            continue
        if "get" not in operations:
            continue
        listing = check("GET", url, client.get(url))
        assert listing.status_code == 200, (url, listing.status_code)
        item_path = next((p for p in spec["paths"] if p.startswith(path) and p[len(path):] == "{pk}"), None)
        ids = listing.json.get("ids", [])[:3]
        for pk in ids:
            record = check("GET", f"{url}{pk}", client.get(f"{url}{pk}"), item_path).json.get("result", {})
            item_operations = spec["paths"].get(item_path, {})
            if "put" in item_operations:
                body = body_from(spec, body_schema(spec, item_operations["put"]), record, None)
                answer = check("PUT", f"{url}{pk}", client.put(f"{url}{pk}", json=body), item_path)
                if answer.status_code == 200:
                    written.add(f"PUT {url}")
            if "post" in operations:
                body = body_from(spec, body_schema(spec, operations["post"]), record, next(serial))
                answer = check("POST", url, client.post(url, json=body))
                if answer.status_code == 201:
                    written.add(f"POST {url}")

    assert not leaks, "\n".join(leaks)
    # The walk reached the operators' API (which answered its hash) and wrote through most APIs.
    assert {"POST /api/v1/operators/", "PUT /api/v1/operators/", "PUT /api/v1/subscriptions/"} <= written, written
    assert len([name for name in walked if name.startswith("GET")]) >= 15, walked
    # The spec says so too: a client sends the password and never reads it back.
    operator_post = resolve(spec, spec["components"]["schemas"]["OperatorApi.post"])
    assert operator_post["properties"]["password"].get("writeOnly") is True


def test_a_put_that_leaves_the_password_out_keeps_it_and_does_not_answer_it(app, api):
    from app.clients.models import Subscription
    from app.extensions import db
    from tests.factories import make_client, make_service, make_subscription

    with app.app_context():
        client = make_client(None, "Пламен Парола")
        service = make_service("Интернет парола", username_type="radius")
        subscription_id = make_subscription(client, service, username="plamen", password="tajna-123").id
    response = api.put(f"/api/v1/subscriptions/{subscription_id}", json={})
    assert response.status_code == 200, response.text
    assert "password" not in response.json["result"]
    with app.app_context():
        assert db.session.get(Subscription, subscription_id).password == "tajna-123"
