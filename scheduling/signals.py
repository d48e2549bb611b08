"""The hooks other apps use to follow appointments.

`appointment_changed` is sent inside the transaction that made the change, with
`appointment` and `change` (one of CHANGES). The follow-up engine listens to create,
move or cancel the patient's reminders and surveys in the same transaction.

`clinical_warning_raised` is sent by the perioperative record (clinic.nursing) when a
signed record puts the patient in an escalation band, inside the transaction that signed
it, with `appointment`, `kind` (one of WARNING_KINDS), `severity`, `summary` (one line,
no patient name) and `source_id` (the record's id). The follow-up engine turns it into a
clinical alert for the procedure's physician, so nursing and follow-up need not know
each other.
"""

from django.dispatch import Signal

# "check_in_undone": back to booked or confirmed after a mistaken check-in, not a new booking
# (its reminders were sent already).
CHANGES = ("booked", "rescheduled", "cancelled", "no_show", "status", "check_in_undone")

appointment_changed = Signal()

# "news2": an observation round with NEWS2 >= 5 or a single parameter scoring 3 (RCP 2017).
WARNING_KINDS = ("news2",)

clinical_warning_raised = Signal()
