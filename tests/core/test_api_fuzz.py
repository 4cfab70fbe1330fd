"""An outside client nobody here wrote: schemathesis over the app's own OpenAPI spec.

Schemathesis's own engine (what its CLI runs) over every operation of the
published spec, as the administrator and as a dealer's operator, on the
demo data: the examples, coverage, fuzzing and stateful phases, valid and
invalid requests, with every check it has — no server error; status code,
content type, headers and body as the spec says; a request the schema
allows is accepted and one it forbids is refused (positive_data_acceptance,
negative_data_rejection); a forged or missing token refused; no method
answered that the spec does not list; a deleted record gone.

It is bounded (FUZZ_EXAMPLES requests per operation and phase, FUZZ_STEPS
stateful steps) so CI runs it in minutes: the full run (all four phases)
is the PostgreSQL one, where text compared with numbers once broke;
SQLite runs the examples and fuzzing phases only (FUZZ_FULL=1 for all).
The app is served over HTTP on a local port, as an outside client meets it.
"""
import os
import threading
from collections import defaultdict
from contextlib import contextmanager

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from werkzeug.serving import WSGIRequestHandler, make_server

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, api_token

ON_POSTGRES = os.environ.get("TEST_DATABASE_URL", "").startswith("postgres")
FULL = ON_POSTGRES or os.environ.get("FUZZ_FULL") == "1"
PHASES = {"examples", "coverage", "fuzzing", "stateful"} if FULL else {"examples", "fuzzing"}
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10" if ON_POSTGRES else "3"))
STEPS = int(os.environ.get("FUZZ_STEPS", "10" if ON_POSTGRES else "4"))
CHECKS = (
    "not_a_server_error", "status_code_conformance", "content_type_conformance",
    "response_schema_conformance", "response_headers_conformance", "positive_data_acceptance",
    "negative_data_rejection", "use_after_free", "ensure_resource_availability", "missing_required_header",
    "ignored_auth", "unsupported_method", "allow_header_conformance",
)
# Deliberate differences between what schemathesis expects and what the API answers, each with its reason:
# {(check, "METHOD /path"): reason}. A failure is let through only when listed here; anything else fails.
BUSINESS_RULES = ("a body of the right types that a business rule refuses with 422 in the panel's words: check "
                  "digits (ЕИК, ЕГН, IBAN, VAT number), rules across fields (a VAT number when VAT-registered, a "
                  "company's name for a company), a name or username already taken, a related record out of the "
                  "operator's reach — no JSON Schema can say these")
IN_USE = "a record still in use (a client with subscriptions, the operator's own account) is refused 422, not deleted"
INFO_QUERY = ("FAB's own _info/get q schema lets any extra key through in its spec and refuses hypothesis's "
              "random keys of unpaired surrogates with 400; FAB's code, not ours, reads these")
ALLOWED = {
    **{("positive_data_acceptance", f"{method} /api/v1/{resource}/"): BUSINESS_RULES
       for method in ("POST",) for resource in
       ("clients", "contracts", "dealers", "networks", "ipv6-pools", "operators", "payments", "services",
        "subscriptions", "tasks")},
    **{("positive_data_acceptance", f"PUT /api/v1/{resource}/{{pk}}"): BUSINESS_RULES
       for resource in ("clients", "contracts", "dealers", "networks", "ipv6-pools", "operators", "services",
                        "subscriptions", "tasks")},
    **{("positive_data_acceptance", f"POST /api/v1/{path}"): BUSINESS_RULES + " (a payment already reversed, a "
       "task already closed, a step out of order)"
       for path in ("payments/{pk}/reverse", "tasks/{pk}/cancel", "tasks/{pk}/close", "tasks/{pk}/steps/{step_id}")},
    **{("positive_data_acceptance", f"DELETE /api/v1/{resource}/{{pk}}"): IN_USE
       for resource in ("clients", "contracts", "dealers", "networks", "ipv6-pools", "operators", "services",
                        "subscriptions", "tasks")},
    **{("positive_data_acceptance", f"GET /api/v1/{resource}/{suffix}"): INFO_QUERY
       for resource in ("clients", "contracts", "dealers", "networks", "ipv6-pools", "operators", "payments",
                        "services", "subscriptions", "tasks") for suffix in ("_info", "{pk}")},
}


def config(base_url, token):
    return SchemathesisConfig.from_dict({
        "base-url": base_url,
        "seed": 25,
        "cache": {"enabled": False},  # no .schemathesis/ left in the project: every run starts afresh
        "max-failures": 400,
        "headers": {"Authorization": f"Bearer {token}"},
        # No NUL characters in generated text: every request holding one is refused with 400 before any view
        # (app.core.errors.refuse_nul_characters, PostgreSQL cannot store it), which JSON Schema cannot say.
        "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True, "database": "none",
                       "allow-x00": False},
        "checks": {name: {"enabled": True} for name in CHECKS},
        "phases": {
            "examples": {"enabled": True},
            # The coverage and stateful phases send thousands of requests whatever max-examples says: the
            # heavy part runs once in CI, on PostgreSQL.
            "coverage": {"enabled": FULL},
            "fuzzing": {"enabled": True},
            "stateful": {"enabled": FULL, "max-steps": STEPS},
        },
    })


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass  # thousands of requests; the failures are what the test reports


@contextmanager
def served(app):
    """The app over HTTP on a free local port, as an outside client meets it.

    (Over HTTP rather than schemathesis's in-process WSGI transport: its
    ignored_auth check passes that transport an argument Werkzeug's test
    client does not take.)
    """
    server = make_server("127.0.0.1", 0, app, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def fuzz(app, spec, username, password):
    """{"operations": n, "requests": n, "failures": {(check, operation): [failure, …]}, "errors": […]}."""
    token = api_token(app.test_client(), username, password)
    found = {"operations": set(), "requests": 0, "failures": defaultdict(list), "errors": [], "phases": set()}
    with served(app) as base_url:
        for event in from_schema(schemathesis.openapi.from_dict(spec, config=config(base_url, token))).execute():
            _note(found, event)
    return found


def _note(found, event):
    if isinstance(event, events.ScenarioFinished):
        found["phases"].add(str(event.phase))
        recorder = event.recorder
        found["requests"] += len(recorder.interactions)
        for node in recorder.cases.values():
            found["operations"].add(node.value.operation.label)
        for checks in recorder.checks.values():
            for check in checks:
                if check.failure_info is not None:
                    failure = check.failure_info.failure
                    found["failures"][(check.name, failure.operation or recorder.label)].append(
                        f"{failure.title}: {failure.message[:500]}\n{check.failure_info.code_sample[:800]}")
    elif isinstance(event, events.NonFatalError):
        found["errors"].append(f"{event.label}: {event.info.format()[-3000:]}")
    elif isinstance(event, events.FatalError):
        raise event.exception


def unexpected(failures):
    return {key: problems for key, problems in failures.items() if key not in ALLOWED}


def test_no_generated_request_gets_a_server_error_or_an_answer_off_the_spec_as_admin_or_dealers_operator(app):
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(admin)}"
    spec = admin.get("/api/v1/_openapi").json  # the spec the app publishes (to operators who may read it)
    runs = {}
    for username, password in ((ADMIN_USERNAME, ADMIN_PASSWORD), ("l.dimitrov", "demo12345")):
        found = runs[username] = fuzz(app, spec, username, password)
        print(f"{username}: {len(found['operations'])} operations, {found['requests']} requests, "
              f"phases {sorted(found['phases'])}, {sum(map(len, unexpected(found['failures']).values()))} "
              f"failures, {sum(len(v) for k, v in found['failures'].items() if k in ALLOWED)} allowed")
    for username, found in runs.items():
        assert found["phases"] >= PHASES, found["phases"]
        assert len(found["operations"]) >= 45 and found["requests"] >= (1000 if FULL else 100)
        assert not found["errors"], "\n".join(found["errors"][:10])
        failures = unexpected(found["failures"])
        assert not failures, f"{username}: " + "\n\n".join(
            f"{check} {name} ({len(problems)}):\n" + "\n".join(problems[:6])
            for (check, name), problems in sorted(failures.items()))
