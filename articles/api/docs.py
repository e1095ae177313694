"""/api/v1/docs: the API's browsable documentation, rendered on the server from the same
OpenAPI document clients download.

A plain HTML page in the site's own layout, not Swagger UI or ReDoc: both need inline styles
(and ReDoc an inline script), which the site's Content-Security-Policy refuses everywhere, and
they would be 1-2 MB of third-party script on a site that runs none. Every GET without
required parameters links to a live example, which a browser shows as JSON.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe
from markdown_it import MarkdownIt

from newsroom.pagecache import page_cache_params

from .router import api

REF_PREFIX = "#/components/schemas/"
# Our own text only (the document's descriptions), rendered without raw HTML.
_markdown = MarkdownIt("commonmark", {"html": False})


def _markdown_html(text: str) -> SafeString:
    return mark_safe(_markdown.render(text or ""))  # noqa: S308 - html disabled: markup is escaped


def _inline_html(text: str) -> SafeString:
    """A one-line description: `code` and links, no paragraph."""
    return mark_safe(_markdown.renderInline(text or ""))  # noqa: S308 - html disabled: markup is escaped


def type_html(schema: dict[str, Any]) -> SafeString:
    """A JSON Schema as a short phrase: "string (date-time)", "array of <a>KeyPoint</a>", "X or null"."""
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF_PREFIX)
        return format_html('<a href="#schema-{}">{}</a>', name, name)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return mark_safe(" or ".join(type_html(option) for option in schema[combinator]))  # noqa: S308
    if "enum" in schema:
        return mark_safe(" | ".join(format_html("<code>{}</code>", value) for value in schema["enum"]))  # noqa: S308
    kind = schema.get("type", "any")
    if kind == "array":
        return format_html("array of {}", type_html(schema.get("items", {})))
    if "format" in schema:
        return format_html("{} ({})", kind, schema["format"])
    return format_html("{}", kind)


def _constraints(schema: dict[str, Any]) -> str:
    words = {"minimum": "at least", "maximum": "at most", "maxLength": "at most {} characters"}
    parts = []
    for key, phrase in words.items():
        if key in schema:
            parts.append(phrase.format(schema[key]) if "{}" in phrase else f"{phrase} {schema[key]}")
    if "default" in schema and schema["default"] is not None:
        parts.append(f"default {schema['default']}")
    return ", ".join(parts)


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    operations = []
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            parameters = [
                {
                    "name": parameter["name"],
                    "where": parameter["in"],
                    "required": parameter.get("required", False),
                    "type": type_html(parameter.get("schema", {})),
                    "constraints": _constraints(parameter.get("schema", {})),
                    "description": _inline_html(parameter.get("description", "")),
                }
                for parameter in operation.get("parameters", [])
            ]
            responses = []
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {}).get("application/json", {})
                responses.append(
                    {
                        "status": status,
                        "description": response.get("description", ""),
                        "type": type_html(content["schema"]) if "schema" in content else "",
                    }
                )
            needs_input = any(p["required"] for p in parameters)
            operations.append(
                {
                    "anchor": operation.get("operationId", f"{method}-{path}"),
                    "method": method.upper(),
                    "path": path,
                    "summary": operation.get("summary", ""),
                    "description": _markdown_html(operation.get("description", "")),
                    "parameters": parameters,
                    "responses": responses,
                    "example": None if needs_input or "{" in path else path,
                }
            )
    return operations


def _schemas(document: dict[str, Any]) -> list[dict[str, Any]]:
    schemas = []
    for name, schema in sorted(document.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        schemas.append(
            {
                "name": name,
                "description": _inline_html(schema.get("description", "")),
                "properties": [
                    {
                        "name": field,
                        "type": type_html(spec),
                        "required": field in required,
                        "description": _inline_html(spec.get("description", "")),
                    }
                    for field, spec in schema.get("properties", {}).items()
                ],
            }
        )
    return schemas


@require_safe
@page_cache_params()
def api_docs(request: HttpRequest) -> HttpResponse:
    document = api.get_openapi_schema()
    operations = _operations(document)
    context = {
        "document": document,
        "intro": _markdown_html(document["info"].get("description", "")),
        "operations": operations,
        "schemas": _schemas(document),
        "openapi": reverse("api-v1:openapi-json"),
        "profile_url": reverse("profile"),
        "rate_limit": settings.API_RATE_LIMIT,
        "token_rate_limit": settings.API_TOKEN_RATE_LIMIT,
        "toc": format_html_join(
            "",
            '<li><a href="#{}"><code>{} {}</code></a></li>',
            ((op["anchor"], op["method"], op["path"]) for op in operations),
        ),
    }
    return render(request, "api/docs.html", context)
