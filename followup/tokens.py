"""Signed links in patient emails: which invitation, for what, and how old.

A token is `django.core.signing` output (HMAC with SECRET_KEY) over the invitation id,
with a salt per purpose so a survey link cannot be replayed as an unsubscribe link, and
a timestamp checked against FOLLOWUP_LINK_MAX_AGE_DAYS. Tokens are not single-use: the
data is (an answered invitation, a confirmed appointment), so a second click is harmless.
"""

from django.conf import settings
from django.core import signing

PURPOSES = ("survey", "confirm", "reschedule", "unsubscribe")


class TokenInvalid(Exception):
    """Tampered, truncated, or made for another purpose."""


class TokenExpired(TokenInvalid):
    """Genuine but older than FOLLOWUP_LINK_MAX_AGE_DAYS."""


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown token purpose {purpose!r}; use one of {', '.join(PURPOSES)}")
    return f"followup.link.{purpose}"


def make_token(*, purpose: str, invitation_id: int) -> str:
    """A URL-safe token naming `invitation_id` for `purpose`."""
    return signing.dumps(int(invitation_id), salt=_salt(purpose))


def read_token(token: str, *, purpose: str) -> int:
    """The invitation id in `token`; raises TokenExpired or TokenInvalid."""
    salt = _salt(purpose)
    max_age = settings.FOLLOWUP_LINK_MAX_AGE_DAYS * 24 * 3600
    try:
        value = signing.loads(token, salt=salt, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise TokenExpired(str(exc)) from None
    except signing.BadSignature as exc:
        raise TokenInvalid(str(exc)) from None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TokenInvalid("The token does not name an invitation.")
    return value
