"""OpenAPI post-processing: every operation documents the error envelope of API.md.

drf-spectacular describes each operation's success answers from its serializers. The error
answers are the same everywhere (one exception handler writes them), so they are added here
once: any 4xx and 5xx is the envelope, and 429 also carries `Retry-After`. Clients and the
schema-conformance checks in the test suite can then rely on the schema for every answer.
"""

from __future__ import annotations

from typing import Any

ERROR_CODES = [
    "validation_error",
    "not_found",
    "permission_denied",
    "conflict",
    "quota_exceeded",
    "rate_limited",
    "unsupported_media_type",
    "payload_too_large",
    "not_authenticated",
    "method_not_allowed",
    "server_error",
    "service_unavailable",
]

ERROR_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "description": "The error envelope every 4xx and 5xx answer uses.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string", "enum": ERROR_CODES},
                "message": {"type": "string", "description": "Safe to show to end users."},
                "fields": {
                    "type": "object",
                    "description": "Per-field validation messages (400 only).",
                    "additionalProperties": True,
                },
                "error_id": {
                    "type": "string",
                    "description": "On 5xx: the id logged next to the real cause.",
                },
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}

_ENVELOPE_REF = {"$ref": "#/components/schemas/ErrorEnvelope"}
_HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}


def _error_response(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ENVELOPE_REF}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "schema": {"type": "integer", "minimum": 0},
                "required": True,
            }
        }
    return response


def add_error_responses(result: dict[str, Any], **_: Any) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry."""
    result.setdefault("components", {}).setdefault("schemas", {})["ErrorEnvelope"] = ERROR_ENVELOPE
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _HTTP_METHODS:
                continue
            responses = operation.setdefault("responses", {})
            responses.setdefault("429", _error_response("Too many requests.", retry_after=True))
            responses.setdefault("4XX", _error_response("The request was refused."))
            responses.setdefault("5XX", _error_response("The server could not answer."))
    return result
