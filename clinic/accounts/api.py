"""The API token endpoints: a token for a username and password (and second factor), and
logging a token out. Tokens are django-rest-knox's: stored as a hash, expiring."""

from django.conf import settings
from django.contrib.auth import authenticate
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from clinic.accounts import services
from clinic.accounts.two_factor import authenticator, second_factor_required
from clinic.auth_backends import ClinicTokenAuthentication
from clinic.models import AuditEvent

REFUSED = "Unable to log in with provided credentials."


class ClinicTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Token <token>` in the API docs."""

    target_class = "clinic.auth_backends.ClinicTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Token"
        )


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)
    otp_token = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="A code from the authenticator app, or a recovery code: needed by Admin, "
        "Manager and Physician accounts and by anyone who set up two-factor authentication.",
    )


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as `Authorization: Token <token>`.")
    expiry = serializers.DateTimeField()


class ApiTokenObtainView(APIView):
    """A new API token for a username and password, valid API_TOKEN_DAYS.

    Wrong passwords count towards the login lockout, and the endpoint is throttled per address.
    """

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "api_token"

    @extend_schema(request=TokenRequestSerializer, responses=TokenResponseSerializer)
    def post(self, request):
        form = TokenRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        # The Django request: the lockout reads and marks it (axes).
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None:
            raise ValidationError({"non_field_errors": [REFUSED]})
        if second_factor_required(user) or authenticator(user) is not None:
            if authenticator(user) is None:
                raise ValidationError(
                    {"otp_token": ["Set up two-factor authentication on the web pages first."]}
                )
            code = data.get("otp_token", "")
            if (
                not code
                or services.second_factor_check(
                    request=request, user=user, code=code, via=" for an API token"
                )
                is None
            ):
                raise ValidationError(
                    {"otp_token": ["Give a current code from the authenticator app."]}
                )
        token, key = services.api_token_create(
            request=request, user=user, days=settings.API_TOKEN_DAYS
        )
        services.login_audit(
            request=request, user=user, action=AuditEvent.Action.LOGIN, detail="API token"
        )
        return Response(TokenResponseSerializer({"token": key, "expiry": token.expiry}).data)


class ApiTokenLogoutView(APIView):
    """Revoke the token this request is made with."""

    authentication_classes = [ClinicTokenAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        services.api_token_revoke(request=request, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)
