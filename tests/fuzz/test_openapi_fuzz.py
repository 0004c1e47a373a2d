"""Fuzzing from the OpenAPI document (schemathesis): every operation of `/openapi.json`, called
with each kind of credential (and none), answers no 5xx and nothing outside what the document
says of it (its status codes, content types and body schemas).

The app runs on the real test PostgreSQL and Redis, on the test clock, in a thread of its own
(schemathesis' client is synchronous). The run is deterministic: hypothesis is derandomized,
keeps no example database, and `FUZZ_EXAMPLES` per operation and credential keeps it within the
suite's budget (about a minute on a 2-CPU machine). `bench --only fuzz` is the long run.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from bayaffairs.config import Config
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.openapi import build_openapi
from tests.fuzz.live import KINDS, LiveApp
from tests.support import test_config

# Examples per operation with each kind of credential it takes (with no credential and a rider's,
# for the public ones); the bench's long run raises it. Every other kind is refused before the
# input is read (401 or 403), which a couple of examples show.
FUZZ_EXAMPLES = int(os.environ.get("BAYAFFAIRS_FUZZ_EXAMPLES", "8"))
REFUSED_EXAMPLES = max(1, FUZZ_EXAMPLES // 10)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

SPEC = build_openapi(create_app(test_config()), "http://localhost")
# Invalid input must be refused: with schemathesis' statuses, and 413, the documented answer to
# a body over the size limit (which a generated list of taps can be).
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]
SCHEMA = schemathesis.openapi.from_dict(
    SPEC,
    config=schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REFUSALS}}}
    ),
)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Operations that end their rider: they get a new rider of their own, not the seeded one.
DESTRUCTIVE = {"DELETE /v1/me", "POST /v1/me/deletion"}
_CREDENTIALS = re.compile(r"Credentials: ([a-z, ]+)\.")


def taken_kinds(operation: schemathesis.APIOperation) -> set[str]:
    """The kinds of credential the document says the operation takes ("none" and "rider" for a
    public one)."""
    found = _CREDENTIALS.search(operation.definition.raw.get("description", ""))
    return set(found.group(1).split(", ")) if found else {"none", "rider"}


@pytest.fixture(scope="module")
def live(config: Config, database_url: str) -> Iterator[LiveApp]:
    app = LiveApp(config)
    try:
        yield app
    finally:
        app.close()


def test_every_documented_operation_is_fuzzed() -> None:
    """The document lists the API's operations (a broken generator would fuzz nothing)."""
    labels = {op.label for op in OPERATIONS}
    assert len(labels) >= 80
    assert "POST /v1/gate/scans" in labels and "POST /v1/travel/bookings" in labels


@functools.cache
def _strategy(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Valid inputs (positive) and invalid ones (negative: every operation takes at least the
    Accept-Language header)."""
    return st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE)
    )


def strategy(
    operation: schemathesis.APIOperation, known: dict[str, str]
) -> st.SearchStrategy[schemathesis.Case]:
    """`_strategy`, and valid inputs with the path parameters that name something real (the
    credential's own operator, centre, a departure of its carrier): those reach the handler."""
    named = {p.name: known[p.name] for p in operation.path_parameters if p.name in known}
    if not named:
        return _strategy(operation)
    return st.one_of(
        _strategy(operation), operation.as_strategy(GenerationMode.POSITIVE, path_parameters=named)
    )


def _headers_made_invalid(case: schemathesis.Case) -> bool:
    header = case.meta.components.get(ParameterLocation.HEADER) if case.meta else None
    return header is not None and header.mode is GenerationMode.NEGATIVE


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_each_operation_answers_as_documented(
    live: LiveApp, operation: schemathesis.APIOperation, kind: str
) -> None:
    token = live.token(kind, seeded=operation.label not in DESTRUCTIVE)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    session = requests.Session()

    @settings(
        max_examples=FUZZ_EXAMPLES if kind in taken_kinds(operation) else REFUSED_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy(operation, live.known))
    def fuzz(case: schemathesis.Case) -> None:
        if _headers_made_invalid(case):
            # the invalid Authorization schemathesis made goes as it is: the credential would make
            # the request valid again, and its acceptance look like invalid data let through
            case.call_and_validate(base_url=live.url, session=session, checks=CHECKS)
            return
        if not token:
            case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        case.call_and_validate(base_url=live.url, session=session, headers=headers, checks=CHECKS)

    try:
        fuzz()
    finally:
        session.close()
