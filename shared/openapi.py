"""The OpenAPI document of a service says what each operation accepts and answers.

FastAPI writes most of it from the routes; :func:`install_openapi` completes what FastAPI cannot
know:

- the roles an operation admits (the :func:`shared.auth.require` dependency it uses) as the
  role names of its ``bearer`` security requirement, as OpenAPI 3.1 allows for non-OAuth
  schemes: ``security: [{"bearer": ["buyer"]}]``, with ``{}`` first where a token is
  optional (a public view);
- the problems every operation with a JSON body can answer before it runs
  (:mod:`shared.json_body`: 400, 413, 415);
- problem+json, not FastAPI's own ``HTTPValidationError``, for a 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from shared.auth import OPTIONAL_ATTRIBUTE, ROLES_ATTRIBUTE
from shared.problems import BODY_PROBLEM_RESPONSES, PROBLEM_RESPONSES

__all__ = ["complete", "inline_schema", "install_openapi", "roles_of", "token_optional"]


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def roles_of(route: APIRoute) -> tuple[str, ...] | None:
    """The roles ``route`` admits, None if it takes no bearer token."""
    for dependant in _dependants(route.dependant):
        roles = getattr(dependant.call, ROLES_ATTRIBUTE, None)
        if roles is not None:
            return tuple(str(role) for role in roles)
    return None


def token_optional(route: APIRoute) -> bool:
    """Whether ``route`` also answers without a bearer token (a public view)."""
    return any(getattr(d.call, OPTIONAL_ATTRIBUTE, False) for d in _dependants(route.dependant))


def complete(document: dict[str, Any], routes: Iterable[Any]) -> dict[str, Any]:
    """Add roles, body problems and problem+json 422s to ``document`` (in place)."""
    for route in routes:
        if not isinstance(route, APIRoute) or not route.include_in_schema:
            continue
        path = document["paths"].get(route.path_format, {})
        for method in route.methods:
            operation = path.get(method.lower())
            if operation is None:
                continue
            roles = roles_of(route)
            if roles is not None and operation.get("security"):
                operation["security"] = [{name: list(roles) for name in requirement}
                                         for requirement in operation["security"]]
                if token_optional(route):
                    operation["security"].insert(0, {})
            responses = operation.setdefault("responses", {})
            if "422" in responses and "application/json" in responses["422"].get("content", {}):
                responses["422"] = PROBLEM_RESPONSES[422]
            if "requestBody" in operation:
                for status, entry in BODY_PROBLEM_RESPONSES.items():
                    responses.setdefault(str(status), entry)
    schemas = document.get("components", {}).get("schemas", {})
    if "HTTPValidationError" in schemas and "HTTPValidationError" not in str(document["paths"]):
        schemas.pop("HTTPValidationError")
        schemas.pop("ValidationError", None)
    return document


def install_openapi(app: FastAPI, routers: Iterable[APIRouter] = ()) -> None:
    """Serve the completed document at ``/openapi.json`` (built once, on first request).

    ``routers`` are those included in ``app``: their routes are read from them, as FastAPI may
    keep included routes out of ``app.routes``."""
    fastapi_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes = [*app.routes, *(route for router in routers for route in router.routes)]
            app.openapi_schema = complete(fastapi_openapi(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def inline_schema(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """``adapter``'s JSON Schema with its ``$defs`` written in place, for an ``openapi_extra``
    request body (a ``$ref`` there would point into the OpenAPI document). Not for recursive
    types."""
    schema = adapter.json_schema()
    defs = schema.pop("$defs", {})

    def resolved(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolved(defs[ref.removeprefix("#/$defs/")])
            out = {key: resolved(value) for key, value in node.items()}
            if isinstance(out.get("discriminator"), dict):  # its mapping names $defs too
                out["discriminator"] = {"propertyName": out["discriminator"]["propertyName"]}
            return out
        if isinstance(node, list):
            return [resolved(value) for value in node]
        return node

    return resolved(schema)
