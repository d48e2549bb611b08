"""Reads about staff accounts."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, Q, QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

User = get_user_model()


def staff_accounts() -> QuerySet:
    """Every account, with its roles and whether it has an authenticator app, in 3 queries."""
    return (
        User.objects.select_related("staff_profile")
        .prefetch_related("groups")
        .annotate(
            has_authenticator=Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))
        )
        .order_by("username")
    )


def staff_search(queryset: QuerySet, query: str) -> QuerySet:
    for word in query.split():
        queryset = queryset.filter(
            Q(username__icontains=word)
            | Q(first_name__icontains=word)
            | Q(last_name__icontains=word)
            | Q(email__icontains=word)
        )
    return queryset


def api_tokens(*, user=None) -> QuerySet:
    """Live API tokens, newest first: the user's, or everyone's without a user."""
    tokens = AuthToken.objects.select_related("user").order_by("-created")
    return tokens.filter(user=user) if user is not None else tokens
