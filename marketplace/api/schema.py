"""OpenAPI descriptions of our authentication schemes (drf-spectacular extensions)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SessionTokenScheme(OpenApiAuthenticationExtension):
    target_class = "marketplace.api.authentication.SessionTokenAuthentication"
    name = "sessionToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "X-Session-Token",
            "description": "Session token from POST /_allauth/app/v1/auth/login (meta.session_token).",
        }


ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": True},
            },
            "required": ["code", "message", "fields"],
        }
    },
    "required": ["error"],
}
_ERROR_TEXT = {
    "400": "Invalid input: `fields` names what was wrong; nothing was changed.",
    "401": "Missing or invalid credentials (X-Session-Token or Authorization: Api-Key).",
    "403": "Authenticated, but this role (or onboarding state) may not do this.",
    "404": "No such object, or it belongs to someone else.",
}


def add_error_responses(result, generator, request, public):
    """Postprocessing hook: every operation documents the one error format for the failures every view
    can answer (401/403 when it needs credentials, 404 when the path names an object, 400 for writes)."""
    components = result.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("Error", ERROR_SCHEMA)
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            wanted = []
            if operation.get("security") and {} not in operation["security"]:
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            if method in ("post", "put", "patch"):
                wanted.append("400")
            for status in wanted:
                operation["responses"].setdefault(
                    status, {"description": _ERROR_TEXT[status], "content": {"application/json": {"schema": ref}}}
                )
    return result
