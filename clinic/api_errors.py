"""The API's one answer to a refusal, and where the OpenAPI schema documents it.

A service's `Refused` propagates out of any API view and answers 409 with
{"detail", "reasons": [{"code", "message"}], "alternatives": [...]}. Bad input stays 400.
"""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from clinic.refusals import Refused
from clinic.sites import CrossSiteRefused

WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable, for programs: e.g. room_taken.")
    message = serializers.CharField(help_text="For people.")
    stop = serializers.CharField(
        required=False,
        help_text="Only for a safety stop: which one (a checklist item's code, or "
        "time-out-nurse / time-out-physician). Give a reason under this key in `overrides`.",
    )
    overridable = serializers.BooleanField(
        required=False,
        help_text="Only for a safety stop: whether a physician may override it with a reason.",
    )

    def to_representation(self, reason):
        # Reasons that are not safety stops keep their two keys.
        data = super().to_representation(reason)
        if not getattr(reason, "stop", ""):
            data.pop("stop", None)
            data.pop("overridable", None)
        return data


class RefusalSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="The refusal in a sentence.")
    reasons = ReasonSerializer(many=True)
    alternatives = serializers.SerializerMethodField()

    @extend_schema_field(
        {
            "type": "array",
            "items": {"type": "object", "additionalProperties": True},
            "description": "What could be done instead, often none. A refused booking or "
            "reschedule offers free slots, each shaped as a Slot.",
        }
    )
    def get_alternatives(self, refused: Refused) -> list:
        # The view says how its alternatives look in JSON; anything else is JSON already.
        serializer = getattr(self.context.get("view"), "alternatives_serializer", None)
        if serializer is None:
            return list(refused.alternatives)
        return serializer(refused.alternatives, many=True).data


REFUSED = OpenApiResponse(
    RefusalSerializer, description="A rule refuses this valid request: every reason why."
)


def exception_handler(exc, context):
    """DRF's handler, plus Refused -> 409 in the one shape of RefusalSerializer."""
    if isinstance(exc, Refused):
        set_rollback()
        body = RefusalSerializer(exc, context=context).data
        return Response(body, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, CrossSiteRefused):
        message = str(exc.args[0])
        body = {
            "detail": message,
            "reasons": [{"code": "other_site", "message": message}],
            "alternatives": [],
        }
        return Response(body, status=status.HTTP_403_FORBIDDEN)
    return drf_exception_handler(exc, context)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's, with the refusal (409) documented once for every write of ours."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if self.method in WRITE_METHODS and self._is_ours():
            responses["409"] = self._get_response_for_code(REFUSED, "409", direction=direction)
        return responses

    def _is_ours(self) -> bool:
        # DRF's own views (the token endpoint) raise no Refused.
        return not type(self.view).__module__.startswith("rest_framework.")
