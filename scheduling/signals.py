"""The one hook other apps use to follow appointments.

`appointment_changed` is sent inside the transaction that made the change, with
`appointment` and `change` (one of CHANGES). The follow-up engine listens to create,
move or cancel the patient's reminders and surveys in the same transaction.
"""

from django.dispatch import Signal

# "check_in_undone": back to booked or confirmed after a mistaken check-in, not a new booking
# (its reminders were sent already).
CHANGES = ("booked", "rescheduled", "cancelled", "no_show", "status", "check_in_undone")

appointment_changed = Signal()
