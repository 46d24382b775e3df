"""Property-based: requests generated from the app's own OpenAPI schema never get a 500.

Schemathesis reads ``/openapi.json`` from a live server and generates requests
for every operation (valid and invalid bodies, query parameters, headers).
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .helpers import LiveServer

MAX_EXAMPLES = 60


def test_no_generated_request_gets_a_server_error(server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert {op.path for op in operations} == {"/classify", "/health"}

    strategy = st.one_of(
        [op.as_strategy() for op in operations]
        + [
            op.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
            for op in operations
            if op.path == "/classify"
        ]
    )

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call(base_url=server.url)
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    check()
