"""An outside client nobody here wrote: schemathesis over the app's own OpenAPI spec.

Every operation of the published spec, with generated requests (valid and
not), as the administrator and as a dealer's operator, on the demo data.
No answer may be a server error, every answer must be what the spec says
(its status code, content type, headers and body schema), and a request
with a forged token must be refused with 401/403. FUZZ_EXAMPLES sets the
requests per operation.
"""
import os
from collections import defaultdict

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, api_token

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "12"))
CHECKS = [not_a_server_error, ignored_auth, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance]


def fuzz(app, spec, username, password):
    """(operations run, requests sent, {operation: [failure, …]}) for one operator."""
    headers = {"Authorization": f"Bearer {api_token(app.test_client(), username, password)}"}
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = app  # requests go to the app in this process (WSGI), not over the network
    failures, sent, operations = defaultdict(list), [0], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        name = f"{operation.method.upper()} {operation.path}"

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case):
            sent[0] += 1
            try:
                case.call_and_validate(headers=headers, app=app, checks=CHECKS)
            except BaseException as failure:  # schemathesis reports a group of failed checks
                if isinstance(failure, KeyboardInterrupt):
                    raise
                for problem in getattr(failure, "exceptions", None) or [failure]:
                    failures[name].append(f"{type(problem).__name__}: {str(problem)[:600]}\n{case.as_curl_command()}")

        run()
    return operations, sent[0], failures


def test_no_generated_request_gets_a_server_error_or_an_answer_off_the_spec_as_admin_or_dealers_operator(app):
    assert app.test_cli_runner().invoke(args=["demo", "seed"]).exit_code == 0
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {api_token(admin)}"
    spec = admin.get("/api/v1/_openapi").json  # the spec the app publishes (to operators who may read it)
    for username, password in ((ADMIN_USERNAME, ADMIN_PASSWORD), ("l.dimitrov", "demo12345")):
        operations, sent, failures = fuzz(app, spec, username, password)
        assert operations >= 45 and sent >= operations * 2
        assert not failures, f"{username}: " + "\n\n".join(
            f"{name}:\n" + "\n".join(problems[:2]) for name, problems in failures.items())
