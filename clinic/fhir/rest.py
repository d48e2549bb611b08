"""DRF plumbing of the FHIR endpoint: the JSON renderer, content negotiation, errors as
OperationOutcome, the role check, and a decorator that turns a function into a view.

Authentication is the API's (DEFAULT_AUTHENTICATION_CLASSES: token, then session).
"""

import json

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.resource import Resource
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from clinic.fhir.access import fhir_can_read
from clinic.fhir.search import SearchError
from clinic.fhir.services import ExportRefused

FHIR_JSON = "application/fhir+json"
# What _format and Accept may ask for: FHIR JSON under any of its names.
JSON_FORMATS = {"json", "application/json", FHIR_JSON, "application/json+fhir"}


class FHIRJSONRenderer(BaseRenderer):
    media_type = FHIR_JSON
    format = "json"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if isinstance(data, Resource):
            return data.model_dump_json().encode()
        return json.dumps(data, ensure_ascii=False).encode()


class FHIRContentNegotiation(BaseContentNegotiation):
    """FHIR JSON unless the client asks only for something else (XML): then 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        renderer = renderers[0]
        wanted = request.query_params.get("_format")
        if wanted is not None:
            if wanted.split(";")[0].strip() not in JSON_FORMATS:
                raise exceptions.NotAcceptable(f"_format={wanted} is not served: use json.")
            return renderer, renderer.media_type
        accept = request.META.get("HTTP_ACCEPT", "")
        media = [part.split(";")[0].strip() for part in accept.split(",") if part.strip()]
        if media and not any(
            m in JSON_FORMATS or m in ("*/*", "application/*") or m.endswith("ndjson")
            for m in media
        ):
            raise exceptions.NotAcceptable(f"{accept} is not served: ask for {FHIR_JSON}.")
        return renderer, renderer.media_type


ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    410: "deleted",
    415: "not-supported",
    429: "throttled",
}


def operation_outcome(message: str, code: str, severity: str = "error") -> OperationOutcome:
    return OperationOutcome(issue=[{"severity": severity, "code": code, "diagnostics": message}])


def fhir_exception_handler(exc, context):
    """Every refusal of the FHIR endpoint as an OperationOutcome with the HTTP status."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "No such resource.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, (SearchError, ExportRefused)):
        exc = exceptions.ParseError(str(exc))
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling and logging take it
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))
    detail = exc.detail
    if isinstance(detail, dict | list):
        detail = json.dumps(detail)
    outcome = operation_outcome(str(detail), ISSUE_CODES.get(exc.status_code, "processing"))
    return Response(outcome, status=exc.status_code, headers=headers)


class FHIRReadPermission(BasePermission):
    """Only staff roles that may read the clinical record (and the type asked for)."""

    def has_permission(self, request, view):
        return fhir_can_read(request.user, resource_type=view.kwargs.get("resource_type"))


class FHIRView(APIView):
    renderer_classes = [FHIRJSONRenderer]
    content_negotiation_class = FHIRContentNegotiation
    permission_classes = [FHIRReadPermission]
    schema = None  # not part of the /api/ OpenAPI schema; the CapabilityStatement is its own

    def get_exception_handler(self):
        return fhir_exception_handler


def fhir_view(*, methods=("GET",), public=False):
    """A FHIR endpoint from a function `view(request, **kwargs) -> Response`.

    `public`: answered without authentication (the CapabilityStatement only).
    """

    def decorate(func):
        def handler(self, request, *args, **kwargs):
            return func(request, *args, **kwargs)

        attrs = {method.lower(): handler for method in methods}
        attrs["__doc__"] = func.__doc__
        if public:
            attrs["authentication_classes"] = []
            attrs["permission_classes"] = []
        view_class = type(func.__name__, (FHIRView,), attrs)
        return view_class.as_view()

    return decorate


def fhir_response(resource, status_code=status.HTTP_200_OK, **kwargs) -> Response:
    return Response(resource, status=status_code, **kwargs)
