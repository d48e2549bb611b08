"""The day board, week board, a physician's day, the printable day list and calendars."""

import datetime
import functools
from dataclasses import dataclass
from html import escape

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from clinic import sites
from clinic.audit import audit_record
from clinic.decorators import permission_required
from clinic.links import key_url
from clinic.models import AuditEvent, Site
from clinic.roles import Role, roles_of
from clinic.ui import StyledFormMixin
from scheduling import calendars, rules, selectors
from scheduling import selectors_board as board
from scheduling.dates import EARLIEST_DAY, LATEST_DAY
from scheduling.forms import PhysicianChoiceField, ScheduleDateField
from scheduling.models import Appointment, CalendarFeed, Status
from scheduling.services import (
    UNDO_CHECK_IN,
    TransitionRefused,
    appointment_check_in_undo,
    appointment_mark_no_show,
    appointment_transition,
)
from scheduling.templatetags.board_tags import person

VIEW = "scheduling.view_appointment"
CHANGE = "scheduling.change_appointment"
DAY_ERROR = "Enter a real date as YYYY-MM-DD; showing today instead."
DAY_RANGE_ERROR = (
    f"Choose a day between {EARLIEST_DAY:%Y-%m-%d} and {LATEST_DAY:%Y-%m-%d}; "
    "showing today instead."
)
DAY_ERRORS = {"invalid": DAY_ERROR, "out_of_range": DAY_RANGE_ERROR}
_DAY = datetime.timedelta(days=1)
SITE_ERROR = "That site does not exist or is closed; showing the first open site instead."


class SiteChoiceField(forms.ChoiceField):
    """One of `sites`, the open sites the user sees, read once for the request: offered and
    checked from that list, where a ModelChoiceField reads its queryset twice (the options,
    and get() for the choice). Cleans to the Site."""

    def __init__(self, *, sites=(), **kwargs):
        super().__init__(**kwargs)
        self.sites = sites

    @property
    def sites(self):
        return self._sites

    @sites.setter
    def sites(self, sites):
        self._sites = list(sites)
        self._by_key = {str(site.pk): site for site in self._sites}
        self.choices = [(site.pk, str(site)) for site in self._sites]

    def prepare_value(self, value):
        return value.pk if isinstance(value, Site) else value

    def to_python(self, value):
        if value in self.empty_values:
            return None
        site = self._by_key.get(str(value))
        if site is None:
            error = self.error_messages["invalid_choice"]
            raise ValidationError(error, code="invalid_choice", params={"value": value})
        return site

    def validate(self, value):
        forms.Field.validate(self, value)  # to_python checked the choice


class BoardForm(StyledFormMixin, forms.Form):
    site = SiteChoiceField(required=False, error_messages={"invalid_choice": SITE_ERROR})
    day = ScheduleDateField(required=False, error_messages=DAY_ERRORS)

    def __init__(self, *args, sites, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].sites = sites


class PhysicianDayForm(StyledFormMixin, forms.Form):
    physician = PhysicianChoiceField(
        queryset=selectors.physicians(),
        required=False,
        empty_label="Choose a physician",
        error_messages={"invalid_choice": "Choose a physician from the list."},
    )
    day = ScheduleDateField(required=False, error_messages=DAY_ERRORS)


def _choices(request, form_class, defaults):
    """The valid choices of the query string, `defaults(cleaned)` for the rest, and the form:
    bound (showing the errors) when something was wrong, else filled with what is shown."""
    form = form_class(request.GET)
    valid = form.is_valid()
    chosen = {**defaults(form.cleaned_data), **{k: v for k, v in form.cleaned_data.items() if v}}
    if valid:
        form = form_class(initial=chosen)
    return form, chosen


def _site_and_day(request):
    open_sites = list(sites.sites_in_scope(request.user, Site.objects.filter(active=True)))

    def defaults(cleaned):
        site = cleaned.get("site") or next(iter(open_sites), None)
        zone = site.zone if site else None
        return {"site": site, "day": timezone.localdate(timezone=zone)}

    form, chosen = _choices(request, functools.partial(BoardForm, sites=open_sites), defaults)
    return form, chosen["site"], chosen["day"]


def board_url(name, **params) -> str:
    return f"{reverse(name)}?{urlencode({k: v for k, v in params.items() if v is not None})}"


def _links(site, day) -> dict:
    params = {"site": site.pk, "day": day.isoformat()}
    return {
        "day_url": board_url("day_board", **params),
        "week_url": board_url("week_board", **params),
        "print_url": board_url("day_list_print", **params),
        "physician_url": board_url("physician_day", day=day.isoformat()),
    }


@dataclass
class Card:
    """An appointment's board card as shown, worked out once in Python: a busy day has
    dozens of cards, and template filters and tags per card cost more than its query."""

    appointment: Appointment
    dom_id: str  # "card-<pk>", what an htmx swap targets
    status_class: str  # "status-<status>", the status colour
    css_class: str
    starts: str  # wall-clock times in the appointment's site's zone ("09:00")
    ends: str
    checked_in: str  # the check-in time, "" while not checked in
    status: str
    patient: str
    patient_last_name: str
    procedure: str
    side_and_level: str
    physician: str
    detail_url: str
    # The buttons' row: shown to whoever may change appointments, with the moves that
    # this user may make now on this card.
    may_change: bool
    transition_url: str = ""  # where its buttons post, when it has any
    check_in: bool = False
    undo_check_in: bool = False
    no_show: bool = False


def board_cards(appointments, user, now) -> dict[int, Card]:
    """The cards of these appointments for this user, by appointment pk."""
    may_change = user.has_perm(CHANGE)
    may_check_in = selectors.may_set_status(user, Status.CHECKED_IN)
    may_undo_check_in = selectors.may_undo_check_in_as(user)
    may_no_show = selectors.may_set_status(user, Status.NO_SHOW)
    cards = {}
    for appointment in appointments:
        zone = appointment.site.zone
        checked_in = appointment.checked_in_at
        status_class = f"status-{appointment.status}"
        card = Card(
            appointment=appointment,
            dom_id=f"card-{appointment.pk}",
            status_class=status_class,
            css_class=f"board-card {status_class}" + ("" if appointment.is_active else " is-freed"),
            starts=f"{timezone.localtime(appointment.starts_at, zone):%H:%M}",
            ends=f"{timezone.localtime(appointment.ends_at, zone):%H:%M}",
            checked_in=f"{timezone.localtime(checked_in, zone):%H:%M}" if checked_in else "",
            status=appointment.get_status_display(),
            patient=appointment.patient.full_name,
            patient_last_name=appointment.patient.last_name,
            procedure=appointment.procedure_type.name,
            side_and_level=appointment.side_and_level,
            physician=person(appointment.physician),
            detail_url=key_url("appointment_detail", appointment.pk),
            may_change=may_change,
        )
        if may_change:
            card.check_in = (
                may_check_in
                and appointment.can_move_to(Status.CHECKED_IN)
                and rules.is_appointment_day(appointment, now)
            )
            card.undo_check_in = (
                may_undo_check_in
                and appointment.status == Status.CHECKED_IN
                and rules.is_appointment_day(appointment, now)
            )
            card.no_show = (
                may_no_show
                and appointment.can_move_to(Status.NO_SHOW)
                and appointment.starts_at <= now
            )
            if card.check_in or card.undo_check_in or card.no_show:
                card.transition_url = key_url("board_card_transition", appointment.pk)
        cards[appointment.pk] = card
    return cards


def _grid_html(day) -> dict:
    """The day grid's time lines, free quarter hours, and recovery bays (day.html).

    Hundreds of cells: written with f-strings, every text in them escaped here as
    format_html would (html.escape is what django.utils.html.escape runs), without
    format_html's calls per value."""
    return {
        "time_rows": mark_safe(
            "\n".join(
                f'<div class="board-line{" is-hour" if row.is_hour else ""}" '
                f'style="grid-column: 1 / -1; grid-row: {row.grid_span}"></div>\n'
                f'<div class="board-time" style="grid-column: 1; grid-row: {row.grid_span}">'
                + (f"<strong>{escape(row.label)}</strong>" if row.is_hour else escape(row.label))
                + "</div>"
                for row in day.label_rows
            )
        ),
        "free_slots": mark_safe(
            "\n".join(
                f'<a class="board-free" href="{escape(slot.url)}" style="grid-column: '
                f'{column.grid_line}; grid-row: {slot.grid_span}" aria-label="Book {room} at '
                f'{escape(slot.label)}"><span aria-hidden="true">+ {escape(slot.label)}</span></a>'
                for column in day.rooms
                for room in (escape(column.room.name),)
                for slot in column.free
                if slot.url
            )
        ),
        "bay_hours": mark_safe(
            "".join(
                f'<div class="bay-hour" style="grid-column: {row.grid_line} ; grid-row: 1">'
                f"{escape(row.label)}</div>"
                for row in day.hour_rows
            )
        ),
        "bays": mark_safe(
            "\n".join(
                f'<div class="fw-semibold small" style="grid-column: 1; grid-row: '
                f'{lane.grid_line}">{escape(lane.bay.name)}</div>\n{_stays_html(lane)}'
                for lane in day.bays
            )
        ),
    }


def _stays_html(lane) -> str:
    parts = []
    for stay in lane.stays:
        card = stay.card
        patient, status = escape(card.patient), escape(card.status)
        parts.append(
            f'<div class="bay-stay {escape(card.status_class)}" style="grid-column: '
            f'{stay.grid_span}; grid-row: {lane.grid_line}"\n'
            f'  title="{patient}, {stay.starts}–{stay.ends}, {status}">\n'
            f"  {stay.starts}<br>{escape(card.patient_last_name)}"
            f'<span class="visually-hidden">, {status}</span>\n</div>'
        )
    return "\n".join(parts)


@permission_required(VIEW)
def day_board(request):
    form, site, day = _site_and_day(request)
    context = {"form": form, "board": None}
    if site is not None:
        now = timezone.now()
        day_board = context["board"] = board.day_board(site=site, day=day)
        board.board_cards_read(day_board.appointments, request.user)
        cards = board_cards(day_board.appointments, request.user, now)
        for placed in day_board.placed:
            placed.card = cards[placed.appointment.pk]
        if selectors.may_book(request.user):
            _link_free_slots(day_board, now)
        context["grid"] = _grid_html(day_board)
        context.update(_links(site, day))
        context["previous_url"] = board_url("day_board", site=site.pk, day=day - _DAY)
        context["next_url"] = board_url("day_board", site=site.pk, day=day + _DAY)
    return render(request, "scheduling/board/day.html", context)


def _link_free_slots(day, now) -> None:
    """Each free quarter hour still to come becomes a link to book it, room and time filled."""
    book = reverse("appointment_book")
    for column in day.rooms:
        column.free = [slot for slot in column.free if slot.starts_at > now]
        for slot in column.free:
            query = urlencode({"room": column.room.pk, "starts_at": slot.starts_at.isoformat()})
            slot.url = f"{book}?{query}"


@permission_required(VIEW)
def week_board(request):
    form, site, day = _site_and_day(request)
    context = {"form": form, "week": None}
    if site is not None:
        week = board.week_board(site=site, week_start=day)
        may_book = selectors.may_book(request.user)
        now = timezone.now()
        for weekday in week.days:
            weekday.free = [(room, slot) for room, slot in weekday.free if slot.starts_at > now]
            for room, slot in weekday.free if may_book else ():
                slot.url = board_url(
                    "appointment_book", room=room.pk, starts_at=slot.starts_at.isoformat()
                )
        context["week"] = week
        context.update(_links(site, day))
        context["previous_url"] = board_url("week_board", site=site.pk, day=week.previous_week)
        context["next_url"] = board_url("week_board", site=site.pk, day=week.next_week)
    return render(request, "scheduling/board/week.html", context)


@permission_required(VIEW)
def physician_day(request):
    own = request.user if Role.PHYSICIAN in roles_of(request.user) else None
    form, chosen = _choices(
        request,
        PhysicianDayForm,
        lambda cleaned: {"physician": own, "day": timezone.localdate()},
    )
    physician, day = chosen["physician"], chosen["day"]
    context = {"form": form, "schedule": None, "day": day}
    if physician is not None:
        schedule = context["schedule"] = board.physician_day(physician=physician, day=day)
        board.board_cards_read(schedule.appointments, request.user)
        cards = board_cards(schedule.appointments, request.user, timezone.now())
        context["active_cards"] = [cards[a.pk] for a in schedule.active]
        context["freed_cards"] = [cards[a.pk] for a in schedule.freed]
        context["previous_url"] = board_url("physician_day", physician=physician.pk, day=day - _DAY)
        context["next_url"] = board_url("physician_day", physician=physician.pk, day=day + _DAY)
    return render(request, "scheduling/board/physician.html", context)


@permission_required(VIEW)
def day_list_print(request):
    form, site, day = _site_and_day(request)
    context = {"form": form, "board": None}
    if site is not None:
        context["board"] = board.day_board(site=site, day=day)
        board.board_cards_read(context["board"].appointments, request.user)
        context.update(_links(site, day))
        # A printed list of patients leaves the system; record who printed which day.
        audit_record(
            request=request,
            action=AuditEvent.Action.EXPORT,
            detail=f"printable day list {site} {day:%Y-%m-%d}",
        )
    return render(request, "scheduling/board/print.html", context)


@permission_required(CHANGE)
@require_POST
def board_card_transition(request, pk):
    """Check in, undo a check-in or mark a no-show from a board card; htmx swaps the
    returned card."""
    appointment = get_object_or_404(board.card_appointments(), pk=pk)
    to = request.POST.get("to", "")
    if to in Status.values and not selectors.may_set_status(request.user, to):
        raise PermissionDenied
    if to == UNDO_CHECK_IN and not selectors.may_undo_check_in_as(request.user):
        raise PermissionDenied
    error = ""
    try:
        if to == UNDO_CHECK_IN:
            appointment_check_in_undo(actor=request.user, appointment=appointment)
        elif to == Status.CHECKED_IN:
            appointment_transition(actor=request.user, appointment=appointment, to=to)
        elif to == Status.NO_SHOW:
            appointment_mark_no_show(actor=request.user, appointment=appointment)
        else:
            raise TransitionRefused(
                "The board can only check a patient in (or undo it) or mark a no-show.",
                code="not_on_the_board",
            )
        appointment = board.card_appointments().get(pk=pk)
    except TransitionRefused as refused:
        error = str(refused)
    if request.htmx:
        board.board_cards_read([appointment], request.user)
        card = board_cards([appointment], request.user, timezone.now())[pk]
        return render(
            request,
            "scheduling/board/_card.html",
            {"card": card, "appointment": appointment, "error": error},
        )
    if error:
        messages.error(request, error)
    else:
        messages.success(
            request, f"{appointment.patient.full_name}: {appointment.get_status_display()}."
        )
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = board_url(
            "day_board", site=appointment.site_id, day=appointment.local_start.date()
        )
    return redirect(next_url)


def _ics_response(content: bytes, filename: str | None = None) -> HttpResponse:
    response = HttpResponse(content, content_type="text/calendar; charset=utf-8")
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@permission_required(VIEW)
def appointment_ics(request, pk):
    """The appointment as an .ics file; ?for=patient gives the neutral patient version."""
    appointment = get_object_or_404(board.card_appointments(), pk=pk)
    for_patient = request.GET.get("for") == "patient"
    audit_record(
        request=request,
        action=AuditEvent.Action.EXPORT,
        obj=appointment,
        patient=appointment.patient,
        detail="calendar file" + (" (patient version)" if for_patient else ""),
    )
    return _ics_response(
        calendars.appointment_ics(appointment, for_patient=for_patient),
        f"appointment-{appointment.pk}.ics",
    )


def physician_feed(request, token):
    """The subscription feed: no login, the secret token is the key. A revoked or expired
    token, or one whose owner is no longer an active physician, gets 404. Each fetch is
    audited."""
    feed = CalendarFeed.objects.select_related("physician__staff_profile").filter(token=token)
    feed = feed.first()
    if feed is None or not feed.is_usable():
        raise Http404
    audit_record(
        request=request,
        user=feed.physician,
        action=AuditEvent.Action.EXPORT,
        obj=feed,
        detail="calendar feed fetched",
    )
    response = _ics_response(calendars.physician_feed_ics(feed.physician))
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


FEED_ACTIONS = {
    "create": (calendars.calendar_feed_create, "Your calendar feed is ready."),
    "revoke": (
        calendars.calendar_feed_revoke,
        "The old link no longer works. Subscribe again with the new link below.",
    ),
    "delete": (calendars.calendar_feed_delete, "Your calendar feed is turned off."),
}


@permission_required(VIEW)
def calendar_feed_settings(request):
    is_physician = Role.PHYSICIAN in roles_of(request.user)
    if request.method == "POST":
        if not is_physician:
            raise PermissionDenied
        action = FEED_ACTIONS.get(request.POST.get("action", ""))
        if action is None:
            messages.error(request, "Choose create, replace or turn off.")
        else:
            action[0](physician=request.user)
            messages.success(request, action[1])
        return redirect("calendar_feed_settings")
    feed = CalendarFeed.objects.filter(physician=request.user).first()
    feed_url = settings.SITE_URL + reverse("physician_feed", args=[feed.token]) if feed else ""
    return render(
        request,
        "scheduling/board/calendar_feed.html",
        {
            "is_physician": is_physician,
            "feed": feed,
            "feed_url": feed_url,
            "webcal_url": feed_url.replace("https://", "webcal://").replace("http://", "webcal://"),
        },
    )
