"""Completes the generated OpenAPI document with the problems every operation may answer.

Litestar documents success responses and 400 validation errors; the service answers validation with
422 and has a fixed set of other problems. They are added here once, for every operation, so the
document names every status code a client can see.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.openapi.spec import (
    OpenAPIMediaType,
    OpenAPIResponse,
    OpenAPIType,
    Reference,
    RequestBody,
    Schema,
)

PROBLEM_SCHEMA = Schema(
    type=OpenAPIType.OBJECT,
    required=["type", "title", "status"],
    description="RFC 9457 problem details.",
    properties={
        "type": Schema(type=OpenAPIType.STRING, description="Stable URI of the kind of problem"),
        "title": Schema(type=OpenAPIType.STRING),
        "status": Schema(type=OpenAPIType.INTEGER),
        "detail": Schema(type=OpenAPIType.STRING),
        "instance": Schema(type=OpenAPIType.STRING),
        "rule": Schema(type=OpenAPIType.STRING, description="The business rule that refused the request"),
        "retry_after": Schema(type=OpenAPIType.INTEGER),
        "errors": Schema(
            type=OpenAPIType.ARRAY,
            items=Schema(
                type=OpenAPIType.OBJECT,
                required=["pointer", "detail"],
                properties={
                    "pointer": Schema(
                        type=OpenAPIType.STRING, description="JSON Pointer into the body, or query:<name>"
                    ),
                    "detail": Schema(type=OpenAPIType.STRING),
                },
            ),
        ),
        "extra": Schema(type=OpenAPIType.OBJECT, additional_properties=True),
    },
)

_COMMON = {
    "401": "Missing or unknown API key",
    "403": "The key's role may not do this",
    "422": "The request is not valid (with `errors` pointers)",
    "429": "Rate limited; see `Retry-After`",
    "500": "Internal error (no details)",
    "503": "A backing service is unavailable",
}
_WITH_ID = {"404": "Not found, or outside the key's organisation"}
_WRITES = {
    "409": "Conflicts with the current state (names the rule), or a request with the same Idempotency-Key is in flight",
    "412": "If-Match does not match the current version",
    "413": "The body is over the size limit",
}


def document_problems(app: Litestar) -> None:
    schema = app.openapi_schema
    if schema.components.schemas is None:
        schema.components.schemas = {}
    schema.components.schemas["Problem"] = PROBLEM_SCHEMA
    problem = {
        "application/problem+json": OpenAPIMediaType(schema=Reference(ref="#/components/schemas/Problem"))
    }
    for path, item in (schema.paths or {}).items():
        public = not path.startswith("/v1/")
        for method in ("get", "post", "put", "patch", "delete"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses: dict[str, Any] = operation.responses or {}
            responses.pop("400", None)
            codes: dict[str, str] = {}
            if public:
                codes = {"500": _COMMON["500"]}
                if path == "/ready":
                    codes["503"] = "PostgreSQL or Redis does not answer"
                if path == "/metrics":
                    codes["401"] = "METRICS_TOKEN is set and the bearer token is missing or wrong"
                    codes["403"] = (
                        "Not served to this client (METRICS_ALLOW_FROM; production without settings)"
                    )
            else:
                codes = dict(_COMMON)
                codes["400"] = "The body is not readable JSON"
                if "{" in path:
                    codes.update(_WITH_ID)
                if method != "get":
                    codes.update(_WRITES)
            for code, description in codes.items():
                responses.setdefault(code, OpenAPIResponse(description=description, content=problem))
            operation.responses = responses


def document_optional_bodies(app: Litestar) -> None:
    """Mark the bodies of operations whose fields are all optional as not required.

    Such a handler declares its body ``Struct | None``, which the framework documents as a required
    body of that struct or null. The service reads a missing body as the struct with its defaults, so
    the document says the body may be left out and shows the struct alone.
    """
    for item in (app.openapi_schema.paths or {}).values():
        for method in ("post", "put", "patch"):
            operation = getattr(item, method, None)
            body = getattr(operation, "request_body", None)
            if not isinstance(body, RequestBody):
                continue
            for media in body.content.values():
                schema = media.schema
                if not isinstance(schema, Schema) or not schema.one_of:
                    continue
                kept = [
                    s for s in schema.one_of if not (isinstance(s, Schema) and s.type == OpenAPIType.NULL)
                ]
                if len(kept) == 1 and len(schema.one_of) == 2:
                    media.schema = kept[0]
                    body.required = False
                    body.description = "Optional: every field has a default; the body may be left out."
