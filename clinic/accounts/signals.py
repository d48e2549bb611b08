"""The one hook other apps use to follow the life of a staff member's credentials.

`credentials_revoked` is sent with `user` and `reason` ("password changed", "deactivated",
"role removed") after the user's API tokens were revoked. An app that hands out a credential
of its own (the scheduling app's calendar feed) revokes it too.
"""

from django.dispatch import Signal

credentials_revoked = Signal()
