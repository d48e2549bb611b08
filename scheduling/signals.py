"""The one hook other apps use to follow appointments.

`appointment_changed` is sent inside the transaction that made the change, with
`appointment` and `change` (one of CHANGES). The follow-up engine listens to create,
move or cancel the patient's reminders and surveys in the same transaction.
"""

from django.dispatch import Signal

CHANGES = ("booked", "rescheduled", "cancelled", "no_show", "status")

appointment_changed = Signal()
