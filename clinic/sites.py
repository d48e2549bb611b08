"""Site scoping: staff see the records of their own sites.

A staff member with sites ticked on their profile sees the patients, appointments and
clinical records of those sites; one with none ticked sees every site (a one-site clinic
sets nothing). Opening a record held only at another site asks for a reason first
(break-glass): the opening lasts CROSS_SITE_ACCESS_MINUTES, is audited and is on the
Admin's audit page.

A patient belongs to the sites where they have appointments; a patient with none yet
(just registered) is everyone's.
"""

import datetime
import functools
import re

from django.apps import apps
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from clinic.areas import areas
from clinic.audit import audit_record
from clinic.models import AuditEvent, CrossSiteAccess, Patient, StaffProfile


class CrossSiteRefused(PermissionDenied):
    """The record is held at a site that is not the user's: they may open it with a reason."""

    def __init__(self, patient):
        self.patient = patient
        super().__init__(
            "This record is held at another site. To open it, give a reason; it is recorded."
        )


def user_site_ids(user) -> frozenset[int] | None:
    """The ids of the sites whose records `user` sees, or None for every site.

    Worked out once per request (cached on the user object).
    """
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if not hasattr(user, "_clinic_site_ids"):
        site_ids_remember(
            user,
            StaffProfile.sites.through.objects.filter(staffprofile__user=user).values_list(
                "site_id", flat=True
            ),
        )
    return user._clinic_site_ids


def site_ids_remember(user, site_ids) -> None:
    """Remember the user's sites for user_site_ids (none at all: every site)."""
    user._clinic_site_ids = frozenset(site_ids) or None


def site_ids_sql(profile: str) -> str:
    """SELECT the site ids of the staff profile whose id is the SQL expression `profile`."""
    through = StaffProfile.sites.through._meta
    return (
        f"SELECT {through.get_field('site').column} FROM {through.db_table} "
        f"WHERE {through.get_field('staffprofile').column} = {profile}"
    )


def appointments_in_scope(user, queryset: QuerySet, site_field: str = "site") -> QuerySet:
    """`queryset` (appointments, or rows reaching them by `site_field`) cut to the user's sites."""
    ids = user_site_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{site_field}__in": ids})


def sites_in_scope(user, queryset: QuerySet) -> QuerySet:
    """The sites of `queryset` whose records the user sees."""
    ids = user_site_ids(user)
    return queryset if ids is None else queryset.filter(pk__in=ids)


def patients_in_scope(user, queryset: QuerySet, patient_field: str = "") -> QuerySet:
    """`queryset` of patients (or of rows naming a patient by `patient_field`) cut to the
    user's sites: patients with an appointment at one of them, or with none at all."""
    ids = user_site_ids(user)
    if ids is None:
        return queryset
    # The core knows appointments by name only: scheduling sits above it.
    appointments = apps.get_model("scheduling", "Appointment").objects.filter(
        patient=OuterRef(patient_field or "pk")
    )
    return queryset.filter(Exists(appointments.filter(site__in=ids)) | ~Exists(appointments))


def _cross_site_open(user, patient_id) -> bool:
    return CrossSiteAccess.objects.filter(
        user=user, patient_id=patient_id, until__gt=timezone.now()
    ).exists()


def patient_check(user, patient: Patient) -> None:
    """Refuses (CrossSiteRefused) a patient held only at other sites, unless opened with a
    reason a short while ago."""
    ids = user_site_ids(user)
    if ids is None:
        return
    if patients_in_scope(user, Patient.objects.filter(pk=patient.pk)).exists():
        return
    if not _cross_site_open(user, patient.pk):
        raise CrossSiteRefused(patient)


def appointment_check(user, appointment) -> None:
    """Refuses (CrossSiteRefused) an appointment at another site, unless its patient's
    record was opened with a reason a short while ago."""
    ids = user_site_ids(user)
    if ids is None or appointment.site_id in ids:
        return
    if not _cross_site_open(user, appointment.patient_id):
        raise CrossSiteRefused(appointment.patient)


@transaction.atomic
def cross_site_access_open(*, request, patient: Patient, reason: str) -> CrossSiteAccess:
    """Opens another site's record of `patient` for the requesting user, with their reason."""
    now = timezone.now()
    minutes = settings.CROSS_SITE_ACCESS_MINUTES
    access = CrossSiteAccess.objects.create(
        user=request.user,
        patient=patient,
        reason=reason.strip(),
        at=now,
        until=now + datetime.timedelta(minutes=minutes),
    )
    audit_record(
        request=request,
        action=AuditEvent.Action.CROSS_SITE,
        obj=access,
        patient=patient,
        detail=f"for {minutes} min: {reason.strip()}",
    )
    return access


# --- Record pages, found by their route -------------------------------------------------
#
# An area lists, on its AppConfig, the routes of pages and API endpoints that show one
# appointment's record: (a regex on the route, the model its pk names, the path from that
# model to the appointment). SiteScopeMiddleware checks each such request before the view
# runs, so a new page under a listed route is scoped without a line of its own.


@functools.cache
def scoped_routes() -> list[tuple[re.Pattern, str, str]]:
    return [
        (re.compile(pattern), model, path)
        for config in areas()
        for pattern, model, path in getattr(config, "site_scoped_routes", ())
    ]


def route_check(user, route: str, pk) -> None:
    """Refuses (CrossSiteRefused) a record page of another site's appointment."""
    if pk is None or user_site_ids(user) is None:
        return
    for pattern, label, path in scoped_routes():
        if not pattern.search(route):
            continue
        row = (
            apps.get_model(label)
            .objects.filter(pk=pk)
            .values(f"{path}site_id", f"{path}patient_id")
            .first()
        )
        if row is None:
            return  # the view answers 404
        site_id, patient_id = row[f"{path}site_id"], row[f"{path}patient_id"]
        if site_id is None:
            continue  # not by this path (an alert of a survey answer, or of a round)
        if site_id in user_site_ids(user):
            return
        if _cross_site_open(user, patient_id):
            return
        raise CrossSiteRefused(Patient.objects.get(pk=patient_id))
