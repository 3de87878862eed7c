"""GET /api/v1/openapi.json: a valid OpenAPI 3.1 document of every operation, and the API
fuzzed against it with Schemathesis (tokens of every role, on a small canvassed world)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from field_server import create_app
from field_server.api.openapi import (
    ENVELOPE,
    EXTENSION_KEY,
    SECURITY_SCHEME,
    build_document,
    document_of,
    openapi_path,
    operations,
)
from field_server.errors import ERRORS
from tests.api.review_helpers import canvass
from tests.api.sync_helpers import GROUP_A1, WARD_A, WARD_B
from tests.conftest import base_config, build_world, empty_all_tables
from tests.openapi_check import ResponseMismatch

OPENAPI = "/api/v1/openapi.json"
# Routes documented without a declaration of their own (api/openapi.py).
UNDECLARED_BUT_DOCUMENTED = {"health.healthz"}


def code_document() -> dict[str, Any]:
    """The document of the code as it is, from an app that never touches a database."""
    with tempfile.TemporaryDirectory() as instance:
        return build_document(create_app(base_config(instance, "sqlite://")))


DOCUMENT = code_document()


# --- the document -------------------------------------------------------------------------


def test_the_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"] == "3.1.0"
    validate(DOCUMENT)


def test_it_is_served_without_a_token_and_built_once(make_app):
    # make_app, not app: emptying the tables would empty the fuzzing's world below.
    app = make_app()
    response = app.test_client().get(OPENAPI)
    assert response.status_code == 200
    assert response.get_json() == DOCUMENT
    assert app.extensions[EXTENSION_KEY] is document_of(app)  # built by the request, kept


def test_every_registered_error_code_is_in_the_envelope():
    envelope = DOCUMENT["components"]["schemas"][ENVELOPE]
    assert envelope["properties"]["code"]["enum"] == sorted(ERRORS)
    assert envelope["additionalProperties"] is False


def test_error_responses_list_the_codes_of_their_status():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) < 400:
                    continue
                codes = response["x-error-codes"]
                assert codes, (method, path, status)
                assert {ERRORS[code].status for code in codes} == {int(status)}


def test_security_follows_the_permission():
    schemes = DOCUMENT["components"]["securitySchemes"]
    assert schemes[SECURITY_SCHEME] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            if "x-roles" in operation:
                assert operation["security"] == [{SECURITY_SCHEME: []}], (method, path)
                assert "401" in operation["responses"] and "403" in operation["responses"]
            else:
                assert operation["security"] == [], (method, path)
    assert DOCUMENT["paths"][OPENAPI]["get"]["security"] == []
    assert DOCUMENT["paths"]["/healthz"]["get"]["security"] == []


def test_every_output_and_request_schema_is_closed():
    for name, component in DOCUMENT["components"]["schemas"].items():
        if component.get("type") == "object" and "properties" in component:
            assert component["additionalProperties"] is False, name


def test_flask_rules_become_path_templates():
    assert openapi_path("/api/v1/users/<username>/password") == (
        "/api/v1/users/{username}/password",
        [
            {
                "in": "path",
                "name": "username",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "pattern": "^[^/]+$"},
            }
        ],
    )
    assert openapi_path("/x/<int:n>")[1][0]["schema"] == {"type": "integer"}


def _routes_without_a_declaration() -> list[str]:
    with tempfile.TemporaryDirectory() as instance:
        app = create_app(base_config(instance, "sqlite://"))
        return [
            f"{method} {rule} ({endpoint})"
            for rule, method, endpoint, spec in operations(app)
            if spec is None and endpoint not in UNDECLARED_BUT_DOCUMENTED
        ]


def test_every_api_route_declares_its_operation():
    assert _routes_without_a_declaration() == []


def test_every_json_operation_documents_its_body():
    vague = [
        f"{method.upper()} {path}"
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if path != OPENAPI
        for status, response in operation["responses"].items()
        if int(status) < 300
        and response.get("content", {}).get("application/json", {}).get("schema")
        == {"type": "object"}
    ]
    assert vague == []


# --- Schemathesis -------------------------------------------------------------------------
#
# Each operation is fuzzed with the token of each role it allows (and without one when it
# needs none), in positive mode (inputs the document allows) and, where it has a query or a
# body, in negative mode (inputs it does not), on one small canvassed world per backend.
#
# The checks, chosen: no 5xx; every status, content type, required header and JSON body as
# documented; an operation that needs a token refuses a request without one. Left out:
# `negative_data_rejection` (the API is lenient by design where the document is exact: a
# query value is a string that the schema converts, marshmallow's Integer takes "5", so some
# "invalid" inputs are rightly answered 2xx), `positive_data_acceptance` (valid-looking ids
# name records that do not exist or are out of scope: 404 is the right answer), and the
# stateful checks (use_after_free, ensure_resource_availability): the API has no DELETE.

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
POSITIVE_EXAMPLES = 12
NEGATIVE_EXAMPLES = 8
# Operations anyone may call without a token face the whole internet; they are cheap, and
# get four times the examples.
ANONYMOUS_FACTOR = 4
# Failures found and reported, each awaiting its fix in the code that owns it (none open):
# target -> backend -> why. Strict xfail: once fixed, the test passes and the entry must go.
KNOWN_BUGS: dict[str, dict[str, str]] = {}
USERS = {
    "admin": "admin",
    "district": "dt.vangiang",
    "supervisor": "sv.vangiang",
    "canvasser": "cv.vg.001",
}
ANONYMOUS = "anonymous"


def _expect_known_bug(
    request: pytest.FixtureRequest, bugs: dict[str, dict[str, str]], target: str, backend: str
) -> None:
    reason = bugs.get(target, {}).get(backend)
    if reason:
        request.applymarker(pytest.mark.xfail(strict=True, reason=reason))


def _fuzz_targets() -> list[Any]:
    """(role, method, path) for each role an operation allows; logging out comes last, so
    that no other operation runs with a token whose session has ended."""
    targets = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            roles = operation.get("x-roles", [ANONYMOUS])
            for role in roles:
                targets.append((path.endswith("/logout"), path, method.upper(), role))
    params = []
    for _, path, method, role in sorted(targets):
        name = f"{role}-{method} {path}"
        params.append(pytest.param(role, method, path, id=name))
    return params


@dataclass
class FuzzWorld:
    app: Any
    schema: Any
    headers: dict[str, dict[str, str]]
    canvasser_device: str
    # path parameter name -> ids that exist in the world
    known: dict[str, list[str]]
    # query parameter name -> units of the world (scheme:code)
    units: dict[str, list[str]]


@pytest.fixture(scope="module")
def fuzz_world(database_url: str) -> Iterator[FuzzWorld]:
    from field_server.extensions import db

    with tempfile.TemporaryDirectory() as instance:
        app = create_app(base_config(instance, database_url))
        with app.app_context():
            empty_all_tables()
        world = build_world(app)
        client = app.test_client()
        done = canvass(world, client)
        tablet = done.tablets["a"]
        # A duplicate address (a possible_duplicate conflict) and a visit whose counts
        # break the rules (a rejection), so those lists have something to show.
        tablet.push([tablet.household(address="Số 12, ngõ 34, phố Hiến Nam")])
        bad = tablet.visit(done.households["h1"], adults=1, smartphones=5)
        tablet.push([bad])
        headers = {role: world.headers(client, user) for role, user in USERS.items()}
        headers["canvasser"] = tablet.headers
        admin = headers["admin"]
        known = {
            "visit_id": sorted(done.visits.values()),
            "household_id": sorted(done.households.values()),
            # Not the fuzzing canvasser's own tablet, nor the fuzzing users: revoking or
            # deactivating those would leave the later operations nothing but 401s.
            "device_id": sorted(t.device_id for k, t in done.tablets.items() if k != "a"),
            "username": ["cv.vg.002", "cv.xq.001", "sv.xuanquan"],
            "conflict_id": _ids(client, f"/api/v1/conflicts?ward={WARD_A}", admin),
            "rejection_id": _ids(client, f"/api/v1/rejections?ward={WARD_A}", admin),
        }
        schema = schemathesis.openapi.from_dict(build_document(app))
        schema.app = app  # every request, also the checks' own, goes to the app in process
        units = {
            "unit": ["gso-2020:33", "gso-2020:326", WARD_A, WARD_B],
            "ward": [WARD_A, WARD_B],
            "parent": ["gso-2020:326"],
            "group": [GROUP_A1],
        }
        yield FuzzWorld(app, schema, headers, tablet.device_id, known, units)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def _ids(client: Any, url: str, headers: dict[str, str]) -> list[str]:
    response = client.get(url, headers=headers)
    if response.status_code != 200:
        return []
    return [str(item["id"]) for item in response.get_json()["items"]]


def _strategy(operation: Any, mode: GenerationMode, world: FuzzWorld) -> Any:
    """Cases of one mode. Path parameters, and the query's units, are drawn from the world
    half of the time (else a list answers an empty page and a record 404, every time); in
    negative mode path parameters always are (a path that matches no route says nothing
    about the operation)."""
    parameters = operation.definition.raw.get("parameters", [])
    path = {p["name"]: world.known.get(p["name"]) for p in parameters if p["in"] == "path"}
    query = {p["name"]: world.units.get(p["name"]) for p in parameters if p["in"] == "query"}
    drawn = {
        "path_parameters": _draw({name: values or ["no-such-id"] for name, values in path.items()}),
        "query": _draw({name: values for name, values in query.items() if values}),
    }
    if mode is GenerationMode.NEGATIVE:
        if not path:
            return operation.as_strategy(mode)
        return drawn["path_parameters"].flatmap(
            lambda values: operation.as_strategy(mode, path_parameters=values)
        )
    if not path and not any(query.values()):
        return operation.as_strategy(mode)
    in_world = st.fixed_dictionaries(drawn).flatmap(
        lambda kwargs: operation.as_strategy(mode, **{k: v for k, v in kwargs.items() if v})
    )
    return st.one_of(operation.as_strategy(mode), in_world)


def _draw(choices: dict[str, list[str]]) -> Any:
    return st.fixed_dictionaries(
        {name: st.sampled_from(values) for name, values in choices.items()}
    )


# Edge values that random generation reaches too rarely to count on, sent into every path
# parameter, and string and date query parameter, of every operation (one by one, with the
# first role the operation allows). Before the fuzzing: its logouts end the sessions.
EDGE_STRINGS = ("a\u0000b", "é𝄞", "x" * 2000)
EDGE_DATES = ("0001-01-01", "9999-12-31")
EDGE_BUGS: dict[str, dict[str, str]] = {}


def _edge_targets() -> list[Any]:
    return [
        pytest.param(method.upper(), path, id=f"{method.upper()} {path}")
        for path, item in DOCUMENT["paths"].items()
        for method, operation in item.items()
        if any(p["in"] in ("path", "query") for p in operation.get("parameters", []))
    ]


def _edge_requests(operation: dict[str, Any], path: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(url, query) with one parameter set to an edge value, the others as in the world."""
    parameters = operation.get("parameters", [])
    for parameter in parameters:
        schema = parameter["schema"]
        if parameter["in"] == "path":
            values: tuple[str, ...] = EDGE_STRINGS
        elif schema.get("format") == "date":
            values = EDGE_DATES
        elif schema.get("type") == "string" and "enum" not in schema:
            values = EDGE_STRINGS
        else:
            continue
        for value in values:
            url, query = path, {}
            for other in parameters:
                given = value if other is parameter else _ordinary(other)
                if other["in"] == "path":
                    url = url.replace("{" + other["name"] + "}", quote(given, safe=""))
                elif given and (other is parameter or other.get("required")):
                    query[other["name"]] = given
            yield url, query


def _ordinary(parameter: dict[str, Any]) -> str:
    return {"unit": WARD_A, "ward": WARD_A}.get(parameter["name"], "")


@pytest.mark.parametrize(("method", "path"), _edge_targets())
def test_edge_values_are_answered_as_documented(
    request: pytest.FixtureRequest, backend: str, fuzz_world: FuzzWorld, method: str, path: str
) -> None:
    _expect_known_bug(request, EDGE_BUGS, f"{method} {path}", backend)
    operation = DOCUMENT["paths"][path][method.lower()]
    headers = fuzz_world.headers.get(operation.get("x-roles", [ANONYMOUS])[0], {})
    client = fuzz_world.app.test_client()
    wrong = []
    for url, query in _edge_requests(operation, path):
        try:
            # The client checks the answer against the document (conftest.py).
            response = client.open(url, method=method, query_string=query, headers=headers)
        except ResponseMismatch as mismatch:
            wrong.append(str(mismatch).splitlines()[0])
            continue
        response.close()  # a streamed export left open would end in a later test
        if response.status_code >= 500:
            wrong.append(f"{method} {url} {query}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(("role", "method", "path"), _fuzz_targets())
def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(
    request: pytest.FixtureRequest,
    backend: str,
    fuzz_world: FuzzWorld,
    role: str,
    method: str,
    path: str,
) -> None:
    _expect_known_bug(request, KNOWN_BUGS, f"{role}-{method} {path}", backend)
    operation = fuzz_world.schema[path][method]
    raw = operation.definition.raw
    factor = ANONYMOUS_FACTOR if role == ANONYMOUS else 1
    modes = [(GenerationMode.POSITIVE, POSITIVE_EXAMPLES * factor)]
    if "requestBody" in raw or any(p["in"] == "query" for p in raw.get("parameters", [])):
        modes.append((GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES * factor))
    for mode, examples in modes:

        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=_strategy(operation, mode, fuzz_world))
        def fuzz(case: Any) -> None:
            if path.endswith("/sync/push") and isinstance(case.body, dict):
                # The token's own device: any other is a plain 403 before the mutations.
                case.body["device_id"] = fuzz_world.canvasser_device
            # Given to the call (not set on the case), the token is known to be a real one:
            # `ignored_auth` then checks that the same request without it is refused.
            headers = fuzz_world.headers.get(role)
            response = case.call(headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        fuzz()
