"""Times the staff pages, the API list and the survey page on a generated busy clinic.

Builds, inside one transaction that is rolled back at the end, the clinic of `manage.py
bench` (100,000+ appointments) and its follow-up: a million answered surveys and more
(invitations and responses written with PostgreSQL COPY), the reminders and surveys still
open, and alerts. Then it requests each page in-process, warm, logged in as a nurse
(django's test Client, so the whole middleware stack runs but no HTTP server), round after
round, and prints the median and 95th percentile of each next to a trivial view's: a view
that runs `SELECT 1` behind the same middleware, measured in the same rounds, so that a
busy machine slows both alike. The trivial view exists only here: this module is the
bench's URLconf (`ROOT_URLCONF` while it measures), the clinic's URLs plus that one.

Point DATABASE_URL at a scratch database (`make bench` uses clinic_bench).
"""

import datetime
import json
import math
import random
import statistics
import time

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Count
from django.http import HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import include, path, reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import ProcedureType, Site
from clinic.roles import Role, group_name
from followup.models import Alert, CarePlanStep, Invitation
from followup.services_outcomes import outcome_episodes_rebuild
from followup.services_recall import recall_entries_rebuild
from followup.tokens import make_token
from scheduling.management.commands.bench import PREFIX, WEIGHTS, Rollback, percentile
from scheduling.management.commands.bench import Command as ClinicBench
from scheduling.models import Appointment, Status


def trivial(request):
    """The yardstick: one query behind the clinic's middleware, no template."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


# This module is the URLconf while the bench measures (and only then).
urlpatterns = [
    path("bench/trivial/", trivial, name="bench_trivial"),
    path("", include("clinic.urls")),
]

K, S = Invitation.Kind, Invitation.Status
DAY = datetime.timedelta(days=1)
SURVEY = ["nrs", "relief", "pgic", "disability", "red_flags"]
ODI = [
    "pain_intensity",
    "personal_care",
    "lifting",
    "walking",
    "sitting",
    "standing",
    "sleeping",
    "sex_life",
    "social_life",
    "travelling",
]
# An answered survey's items: 3 NRS, relief, PGIC, 10 ODI sections and 6 red-flag questions.
ITEMS_PER_RESPONSE = 3 + 1 + 1 + len(ODI) + 6
COPY_CHUNK = 50_000


class Command(ClinicBench):
    help = (
        "Generate a busy clinic with 1,000,000+ survey answers (rolled back afterwards) and "
        "time the staff pages, the API list and the survey page against a trivial view."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--responses", type=int, default=1_000_000, metavar="N")
        parser.add_argument("--rounds", type=int, default=30, metavar="N")
        parser.add_argument(
            "--keep",
            action="store_true",
            help="Commit the generated clinic instead of rolling it back (to study it).",
        )
        parser.add_argument(
            "--reuse",
            action="store_true",
            help="Measure a clinic kept by an earlier --keep run instead of generating one.",
        )
        parser.add_argument(
            "--profile",
            metavar="WORDS",
            help="Also profile the page whose label contains WORDS (cProfile, top 30).",
        )

    def handle(
        self,
        *args,
        appointments,
        responses,
        rounds,
        seed,
        profile=None,
        keep=False,
        reuse=False,
        **options,
    ):
        self.profile = profile
        self.verbose = options["verbosity"] > 1
        if appointments < 1 or responses < 1 or rounds < 2:
            raise CommandError("--appointments and --responses must be at least 1, --rounds 2.")
        self.rng = random.Random(seed)
        self.types = {pt.code: pt for pt in ProcedureType.objects.filter(code__in=WEIGHTS)}
        if "esi-transforaminal" not in self.types:
            raise CommandError("The procedure catalogue is missing: run migrate first.")
        if reuse:
            self.measure_kept_clinic(rounds)
            return
        try:
            with transaction.atomic():
                started = time.perf_counter()
                self.build_clinic(patients=min(30_000, max(2_000, appointments // 4)))
                total = self.build_appointments(appointments)
                built = time.perf_counter()
                self.stdout.write(
                    f"Generated {total:,} appointments in {built - started:.0f} s.", ending="\n"
                )
                self.stdout.flush()
                answered = self.build_followup(responses)
                self.compute("outcome rows (followup.OutcomeEpisode)", outcome_episodes_rebuild)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE")
                # After ANALYZE: its correlated subqueries need the planner's statistics.
                self.compute("recall rows (followup.RecallEntry)", recall_entries_rebuild)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE followup_recallentry")
                self.stdout.write(
                    f"Generated {answered:,} answered surveys ({answered * ITEMS_PER_RESPONSE:,} "
                    f"answers), {Invitation.objects.count():,} invitations and "
                    f"{Alert.objects.count():,} alerts in {time.perf_counter() - built:.0f} s."
                )
                with override_settings(ROOT_URLCONF=__name__):
                    self.measure_pages(rounds)
                if not keep:
                    raise Rollback
            self.stdout.write("Kept: the generated clinic is committed.")
        except Rollback:
            self.stdout.write("Rolled back: the generated clinic is gone.")

    def measure_kept_clinic(self, rounds):
        """Measure the clinic an earlier `--keep` run committed; the pages' users roll back."""
        self.today = timezone.localdate()
        self.sites = list(Site.objects.filter(name__startswith=PREFIX).order_by("pk"))
        if not self.sites:
            raise CommandError("No kept clinic here: run once with --keep first.")
        try:
            with transaction.atomic():
                with override_settings(ROOT_URLCONF=__name__):
                    self.measure_pages(rounds)
                raise Rollback
        except Rollback:
            pass

    # --- Follow-up rows, by COPY ---------------------------------------------------------

    def build_followup(self, wanted: int) -> int:
        """Answered surveys (about `wanted`), open ones, scheduled ones and alerts."""
        now = timezone.now()
        done = list(
            Appointment.objects.filter(site__in=self.sites, status=Status.COMPLETED)
            .order_by("starts_at")
            .values_list("pk", "patient_id", "procedure_type_id", "ends_at")
        )
        if not done:
            raise CommandError("No completed appointments to follow up: use more --appointments.")
        steps = {}
        for plan_type, step, offset in CarePlanStep.objects.filter(plan__active=True).values_list(
            "plan__procedure_type_id", "pk", "offset_days"
        ):
            steps.setdefault(plan_type, []).append((step, offset))
        # Enough surveys per appointment for `wanted` answers, most of them answered.
        # (Some are still ahead for recent appointments: a fifth more than the mean.)
        per = max(2, math.ceil(wanted / len(done) / 0.97 * 1.1) + 1)
        variants = self.answer_variants()
        invitation_id = self.reserve("followup_invitation", len(done) * per)
        response_id = self.reserve("followup_response", len(done) * per)
        alert_id = self.reserve("followup_alert", len(done) * per // 20 + 1)
        invitations, responses, alerts = [], [], []
        answered = 0
        for appointment, patient, procedure_type, ends_at in done:
            plan = steps.get(procedure_type, [])
            for n in range(per):
                if n == 0:
                    kind, step, due = K.BASELINE, None, ends_at - 2 * DAY
                else:
                    step, offset = plan[n - 1] if n - 1 < len(plan) else (None, 7 * n)
                    kind, due = K.SURVEY, ends_at + offset * DAY
                expires = due + 14 * DAY
                row = [invitation_id, kind, SURVEY, due, expires]
                invitation_id += 1
                if due > now:
                    invitations.append(
                        (*row, S.SCHEDULED, None, None, None, appointment, patient, step, 0)
                    )
                    continue
                sent = due + datetime.timedelta(minutes=1)
                if self.rng.random() < 0.97:  # most patients answer
                    submitted = sent + datetime.timedelta(hours=self.rng.randint(1, 60))
                    submitted = min(submitted, now)
                    invitations.append(
                        (
                            *row,
                            S.ANSWERED,
                            sent,
                            submitted,
                            submitted,
                            appointment,
                            patient,
                            step,
                            1,
                        )
                    )
                    answers, scores = variants[self.rng.randrange(len(variants))]
                    responses.append((response_id, row[0], patient, submitted, answers, *scores))
                    if self.rng.random() < 0.02:
                        acknowledged = submitted if submitted < now - 2 * DAY else None
                        alerts.append(
                            (
                                alert_id,
                                response_id,
                                patient,
                                Alert.Kind.WORSE_PAIN,
                                "Pain 3 points above baseline",
                                submitted,
                                acknowledged,
                                "Phoned; advice given." if acknowledged else "",
                                "",
                                1,
                            )
                        )
                        alert_id += 1
                    response_id += 1
                    answered += 1
                    continue
                status = S.EXPIRED if expires <= now else S.SENT
                invitations.append((*row, status, sent, None, None, appointment, patient, step, 1))
            if len(invitations) >= COPY_CHUNK:
                self.copy_rows(invitations, responses, alerts)
                invitations, responses, alerts = [], [], []
        self.copy_rows(invitations, responses, alerts)
        return answered

    def answer_variants(self):
        """A few hundred stored answers (JSON) with their scores, to pick from."""
        variants = []
        for _ in range(300):
            now_, average, worst = sorted(self.rng.randint(0, 10) for _ in range(3))
            pgic = self.rng.randint(1, 7)
            relief = self.rng.choice([0, 10, 25, 50, 75, 90])
            odi = {section: self.rng.randint(0, 5) for section in ODI}
            flags = {
                code: False
                for code in ("bladder", "bowel", "numbness", "weakness", "fever", "weight")
            }
            answers = {
                "nrs_current": now_,
                "nrs_average": average,
                "nrs_worst": worst,
                "relief": relief,
                "pgic": pgic,
                "odi": odi,
                "red_flags": flags,
            }
            odi_percent = sum(odi.values()) * 2
            variants.append(
                (json.dumps(answers), (now_, average, worst, pgic, relief, odi_percent))
            )
        return variants

    @staticmethod
    def reserve(table: str, count: int) -> int:
        """The first of `count` ids taken from the table's sequence for rows copied in."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
            (sequence,) = cursor.fetchone()
            cursor.execute("SELECT nextval(%s)", [sequence])
            (first,) = cursor.fetchone()
            cursor.execute("SELECT setval(%s, %s)", [sequence, first + count])
        return first

    def copy_rows(self, invitations, responses, alerts):
        now = timezone.now()
        with connection.cursor() as wrapper:
            cursor = wrapper.cursor  # psycopg's own, for COPY
            with cursor.copy(
                "COPY followup_invitation (id, kind, instruments, due_at, expires_at, status, "
                "sent_at, opened_at, answered_at, appointment_id, patient_id, step_id, sends, "
                "reminders_sent, draft, last_error, created_at, send_attempts) FROM STDIN"
            ) as copy:
                instruments = json.dumps(SURVEY)
                for row in invitations:
                    copy.write_row((*row[:2], instruments, *row[3:], 0, "{}", "", now, 0))
            with cursor.copy(
                "COPY followup_response (id, invitation_id, patient_id, submitted_at, answers, "
                "nrs_current, nrs_average, nrs_worst, pgic, patient_rated_relief, odi_percent, "
                "red_flags) FROM STDIN"
            ) as copy:
                for row in responses:
                    copy.write_row((*row, "[]"))
            with cursor.copy(
                "COPY followup_alert (id, response_id, patient_id, kind, detail, created_at, "
                "acknowledged_at, acknowledgement_note, severity, occurrences) FROM STDIN"
            ) as copy:
                for row in alerts:
                    copy.write_row(row)

    # --- Measuring pages -----------------------------------------------------------------

    def compute(self, rows, rebuild):
        """Fill derived rows the generated clinic's bulk inserts went around."""
        started = time.perf_counter()
        count = rebuild()
        self.stdout.write(f"Computed {count:,} {rows} in {time.perf_counter() - started:.0f} s.")

    def measure_pages(self, rounds):
        # get_or_create: a kept clinic (--keep) already has them.
        nurse, _ = get_user_model().objects.get_or_create(
            username="bench.nurse", defaults={"first_name": "Bench"}
        )
        nurse.groups.add(Group.objects.get(name=group_name(Role.NURSE)))
        host = next((h for h in settings.ALLOWED_HOSTS if h[:1] not in ("", "*", ".")), "localhost")
        staff = Client(HTTP_HOST=host)
        staff.force_login(nurse)
        # Outcomes are read by physicians and managers.
        manager, _ = get_user_model().objects.get_or_create(username="bench.manager")
        manager.groups.add(Group.objects.get(name=group_name(Role.MANAGER)))
        managing = Client(HTTP_HOST=host)
        managing.force_login(manager)
        # A manager sees no page before the second factor: the session of a verified login.
        device = TOTPDevice.objects.create(user=manager, name="Bench phone")
        session = managing.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
        site = self.sites[0]
        busiest = self.today - datetime.timedelta(days=7 + self.today.weekday())
        # The patient page of the patient with the most appointments (and so the longest
        # follow-up timeline), and of one with the median number.
        by_visits = list(
            Appointment.objects.filter(site__in=self.sites)
            .values("patient")
            .annotate(n=Count("pk"))
            .order_by("-n", "patient")
            .values_list("patient", "n")
        )
        busiest_patient, typical_patient = by_visits[0], by_visits[len(by_visits) // 2]
        surveys = dict(
            Invitation.objects.filter(patient__in=[busiest_patient[0], typical_patient[0]])
            .values("patient")
            .annotate(n=Count("pk"))
            .values_list("patient", "n")
        )
        patient = Client(HTTP_HOST=host)
        appointment = Appointment.objects.filter(site=site, status=Status.COMPLETED).latest(
            "starts_at"
        )
        survey = Invitation.objects.create(
            patient_id=appointment.patient_id,
            appointment=appointment,
            kind=K.SURVEY,
            instruments=SURVEY,
            due_at=timezone.now() - DAY,
            expires_at=timezone.now() + 13 * DAY,
            status=S.SENT,
            sent_at=timezone.now() - DAY,
        )
        start = reverse(
            "survey_start", args=[make_token(purpose="survey", invitation_id=survey.pk)]
        )
        assert patient.get(start, secure=True).status_code == 302
        pages = [
            ("trivial view (SELECT 1, same middleware)", staff, reverse("bench_trivial")),
            ("appointment list, page 1", staff, reverse("appointment_list")),
            ("API /api/v1/appointments/", staff, "/api/v1/appointments/"),
            ("responses list", staff, reverse("response_list")),
            ("survey worklist", staff, reverse("followup_worklist")),
            ("non-responder worklist", staff, reverse("nonresponders")),
            ("recall worklist", staff, reverse("recall_list")),
            ("start page (nurse)", staff, reverse("home")),
            (
                f"day board, busy day ({busiest:%a %Y-%m-%d})",
                staff,
                f"{reverse('day_board')}?site={site.pk}&day={busiest.isoformat()}",
            ),
            *(
                (
                    f"patient page, {kind} ({visits} appointments, "
                    f"{surveys.get(pk, 0)} follow-up rows)",
                    staff,
                    reverse("patient_detail", args=[pk]),
                )
                for kind, (pk, visits) in (
                    ("typical", typical_patient),
                    ("busiest", busiest_patient),
                )
            ),
            ("survey page (patient)", patient, reverse("survey")),
            (
                "outcomes page, one site, last 12 months",
                managing,
                f"{reverse('outcomes')}?site={site.pk}",
            ),
            ("outcomes page, all sites, last 12 months", managing, reverse("outcomes")),
            (
                "outcome episodes list, one site, last 12 months",
                managing,
                f"{reverse('outcome_episodes')}?site={site.pk}",
            ),
            (
                "API /api/v1/followup/outcomes/summary/, one site-year",
                managing,
                f"/api/v1/followup/outcomes/summary/?site={site.pk}",
            ),
            (
                "API /api/v1/followup/outcomes/episodes/, one site-year",
                managing,
                f"/api/v1/followup/outcomes/episodes/?site={site.pk}",
            ),
        ]
        counts, sql = {}, {}
        for label, client, url in pages:
            for _ in range(3):  # warm: templates, query plans, zoneinfo
                answer = client.get(url, secure=True)
                if answer.status_code != 200:
                    raise CommandError(f"{label}: {url} answered {answer.status_code}.")
            with CaptureQueriesContext(connection) as queries:
                client.get(url, secure=True)
            counts[label] = len(queries)
            sql[label] = sum(float(query["time"]) for query in queries) * 1000
            if self.verbose:
                slowest = max(queries, key=lambda query: float(query["time"]))
                self.stdout.write(f"{label}: slowest query {slowest['time']} s: {slowest['sql']}")
        times = {label: [] for label, _, _ in pages}
        # Round-robin: each round requests every page once, so load hits all alike.
        for _ in range(rounds):
            for label, client, url in pages:
                started = time.perf_counter()
                client.get(url, secure=True)
                times[label].append((time.perf_counter() - started) * 1000)
        base = statistics.median(times[pages[0][0]])
        if self.profile:
            self.profile_page(pages, self.profile)
        self.stdout.write(
            f"Pages, warm, in-process, {rounds} rounds (median / p95 / queries / vs trivial):"
        )
        self.stdout.write("| Page | Median | p95 | Queries (SQL ms) | Median vs trivial view |")
        self.stdout.write("|---|---|---|---|---|")
        for label, _, _ in pages:
            median = statistics.median(times[label])
            self.stdout.write(
                f"| {label} | {median:.1f} ms | {percentile(times[label], 0.95):.1f} ms | "
                f"{counts[label]} ({sql[label]:.0f} ms) | {median / base:.1f}× |"
            )

    def profile_page(self, pages, words):
        import cProfile
        import io
        import pstats

        label, client, url = next(page for page in pages if words in page[0])
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(10):
            client.get(url, secure=True)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
        self.stdout.write(f"Profile of {label}, 10 requests:\n{out.getvalue()}")
