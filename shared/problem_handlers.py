"""Problem+json answers in FastAPI: the exception handlers of every service.

Every error raised while handling a request becomes a problem document (:mod:`shared.problems`):
a :class:`~shared.problems.Problem`, FastAPI's validation errors, Starlette's ``HTTPException``,
a database outage (503 with ``Retry-After``) and anything unexpected (500, logged with its
trace id).
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic_core import to_jsonable_python
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.db import CONNECTION_ERRORS, database_unavailable
from shared.problems import (
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_SECONDS,
    DatabaseUnavailable,
    MalformedBody,
    Problem,
    ValidationFailed,
    field_error,
)
from shared.tracing import current_traceparent, trace_id_of

__all__ = ["ProblemResponse", "install_problem_handlers", "problem_response"]

logger = logging.getLogger(__name__)


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def _respond(problem: Problem, request: Request) -> ProblemResponse:
    document = problem.to_dict()
    document.setdefault("instance", request.url.path)
    # Extension members may hold decimals (kept as exact strings), datetimes or UUIDs.
    return ProblemResponse(to_jsonable_python(document), problem.status, headers=problem.headers)


def problem_response(problem: Problem, request: Request) -> ProblemResponse:
    """The answer to ``problem`` raised by ``request``, for a service's own exception handler."""
    return _respond(problem, request)


async def _handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    if exc.status >= 500:
        logger.error("%s %s failed: %s", request.method, request.url.path, exc, exc_info=exc)
    return _respond(exc, request)


async def _handle_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [field_error(error) for error in exc.errors()]
    if any(error.get("type") == "json_invalid" for error in exc.errors()):
        return _respond(MalformedBody("The body is not one JSON text in UTF-8.",
                                      errors=errors), request)
    noun = "field is" if len(errors) == 1 else "fields are"
    problem = ValidationFailed(f"{len(errors)} request {noun} invalid", errors=errors)
    return _respond(problem, request)


async def _handle_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if not 400 <= exc.status_code <= 599:
        return Response(status_code=exc.status_code, headers=exc.headers)
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = "Error"
    slug = re.sub(r"[^a-z0-9]+", "-", phrase.lower()).strip("-") or "error"
    problem = Problem(
        exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None,
        slug=slug,
        status=exc.status_code,
        title=phrase,
        headers=exc.headers,
    )
    return _respond(problem, request)


async def _handle_infrastructure(request: Request, exc: Exception) -> Response:
    """Errors of the database connection (and look-alikes of other causes, which go on as
    unexpected)."""
    if not database_unavailable(exc):
        return await _handle_unexpected(request, exc)
    logger.warning("%s %s: database unavailable: %r", request.method, request.url.path, exc)
    problem = DatabaseUnavailable(
        "The database did not answer. Retry shortly; send a command again with the same "
        "Idempotency-Key.",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return _respond(problem, request)


async def _handle_unexpected(request: Request, exc: Exception) -> Response:
    if database_unavailable(exc):  # raised outside the routes, e.g. in a middleware
        return await _handle_infrastructure(request, exc)
    # Runs in Starlette's outermost middleware, after TraceMiddleware has unwound, so the trace
    # is read from the request state TraceMiddleware left behind.
    traceparent = current_traceparent() or getattr(request.state, "traceparent", None)
    trace_id = trace_id_of(traceparent) if traceparent else None
    logger.error(
        "unhandled exception in %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"trace_id": trace_id} if trace_id else None,
    )
    extensions = {"trace_id": trace_id} if trace_id else {}
    problem = Problem("An unexpected error occurred.", **extensions)
    if traceparent:
        problem.headers["traceparent"] = traceparent
    return _respond(problem, request)


def install_problem_handlers(app: FastAPI) -> None:
    """Answer every error raised while handling a request with a problem document."""
    app.add_exception_handler(Problem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    for kind in (*CONNECTION_ERRORS, asyncpg.InterfaceError):
        app.add_exception_handler(kind, _handle_infrastructure)
    app.add_exception_handler(Exception, _handle_unexpected)
