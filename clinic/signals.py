"""The hook other apps use to follow a patient merge (clinic.services.patient_merge).

`patient_merged` is sent inside the merge's transaction with `keep`, `remove` and `by`,
after the clinic's own rows moved and before `remove` is marked merged. Each app that keeps
rows of a patient moves them from `remove` to `keep` (scheduling: appointments and the
waitlist; follow-up: invitations, answers, alerts, emails), so the clinic app never imports
them. A row an app leaves behind makes the merge fail (see patient_merge).
"""

from django.dispatch import Signal

patient_merged = Signal()
