"""Schemathesis against /api/v1/openapi.json, in-process over WSGI: no 500s, every response as documented.

Each operation is driven through `operation.as_strategy()` inside an ordinary test (schemathesis'
lazy pytest loader does not run under pytest 9), with data that fits the schema, with data that does
not, and with the ids of a real client and field so the happy paths are exercised too.
"""
from __future__ import annotations


import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

from app.tenancy import set_current_tenant
from tests.api.conftest import Api, make_token, new_client

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 8  # per operation and mode: the whole run stays around a minute


def _run(strategy, headers, examples=EXAMPLES):
    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case):
        try:
            case.call_and_validate(headers=headers, checks=CHECKS)
        finally:
            set_current_tenant(None)

    check()


def test_api_matches_its_openapi_document(app, team_a):
    token = make_token(team_a.owner)
    client = new_client(Api(app.test_client(), token), fields={
        "address": "上海", "hobbies": ["阅读"], "vip": True, "branches": [{"kind": "办事处", "city": "上海"}]})
    app.config["API_LIMIT"] = "100000 per minute"  # the fuzzer is one client sending many requests
    with app.test_request_context():
        from app.pdf import render_pdf

        render_pdf("<p>预热</p>")  # the first PDF of a process loads the CJK font: not the API's time
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
        headers = {"Authorization": f"Bearer {token}"}
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 13  # every endpoint (the document's own path may be left out)
        for operation in operations:
            real = {}
            if "{client_id}" in operation.path:
                real = {"client_id": client["id"]}
            elif "{key}" in operation.path:
                real = {"key": "address"}
            # A PDF takes a second to render: fewer examples there keep the run short (its options are few).
            n = 2 if operation.path.endswith("/pdf") else EXAMPLES
            _run(operation.as_strategy(GenerationMode.POSITIVE), headers, n)
            _run(operation.as_strategy(GenerationMode.NEGATIVE), headers, n)
            if real:
                _run(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=real), headers, n)
    finally:
        app.config["API_LIMIT"] = "600 per minute"
