"""README's role table is what the code decides: each cell is worked out here from the role
groups' permissions (clinic.roles and each area's roles.py), the clinical decision point
(clinic.roles.clinical_role_allows) and the selectors the pages ask, and compared with the
table in README.md, so the two cannot drift apart."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import User

from clinic.accounts.services import break_glass_start
from clinic.nursing.guards import OVERRIDE_PERMISSION, RECORDER_PERMISSIONS
from clinic.roles import Role, clinical_role_allows
from scheduling.models import Status
from scheduling.selectors import may_book, may_set_status
from tests.factories import PASSWORD, StaffFactory

YES, NO, BREAK_GLASS = "✓", "—", "break-glass"
SUPERUSER = "Superuser"


def _perms(*perms):
    return lambda user: user.has_perms(perms)


def _clinical(status):
    permission = RECORDER_PERMISSIONS[status][0]
    return lambda user: clinical_role_allows(user, permission) and may_set_status(user, status)


# README column -> how the code decides it for a user.
ACTS = {
    "Register patients": _perms("clinic.add_patient", "clinic.change_patient"),
    "Book, reschedule, cancel": may_book,
    "Check in": lambda user: may_set_status(user, Status.CHECKED_IN),
    "Read clinical record": _perms("clinic.view_clinical_record"),
    "Edit medications, allergies": _perms("clinic.change_clinical_record"),
    "Sign checks": lambda user: clinical_role_allows(user, "nursing.add_checklistanswer"),
    "Start procedure": _clinical(Status.IN_PROCEDURE),
    "Override a hard stop": lambda user: clinical_role_allows(user, OVERRIDE_PERMISSION),
    "Record rounds": lambda user: clinical_role_allows(user, "nursing.add_observationround"),
    "Discharge": _clinical(Status.DISCHARGED),
    "Read nursing record": _perms("nursing.view_checklistanswer", "nursing.view_observationround"),
    "Read outcomes": _perms("followup.view_response", "followup.view_alert"),
    "Outcomes page": _perms("followup.view_outcomeepisode"),
    "Edit protocols": _perms("nursing.change_checklistitem", "followup.change_careplan"),
    "Edit catalogue, availability": _perms(
        "clinic.change_proceduretype", "scheduling.change_physiciansession"
    ),
    "Manage staff": _perms("auth.add_user", "auth.change_user"),
    "Read audit": _perms("clinic.view_auditevent"),
}
ROWS = [Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.MANAGER, Role.ADMIN]


def _fresh(user):
    # Permissions, roles and break-glass are cached on the user object.
    return User.objects.get(pk=user.pk)


def _table_from_code() -> dict[str, dict[str, str]]:
    table = {}
    for role in ROWS:
        user = StaffFactory(username=f"table-{role}", role=role)
        table[Role(role).label] = {act: YES if decide(user) else NO for act, decide in ACTS.items()}
    root = User.objects.create_superuser("table-root", "root@example.com", PASSWORD)
    without = {act: decide(_fresh(root)) for act, decide in ACTS.items()}
    break_glass_start(user=_fresh(root), reason="Role table")
    with_access = {act: decide(_fresh(root)) for act, decide in ACTS.items()}
    table[SUPERUSER] = {}
    for act in ACTS:
        assert with_access[act] or not without[act], f"break-glass takes away {act}"
        table[SUPERUSER][act] = YES if without[act] else BREAK_GLASS if with_access[act] else NO
    return table


def _markdown(table) -> str:
    lines = [
        "| Role | " + " | ".join(ACTS) + " |",
        "|---|" + "---|" * len(ACTS),
    ]
    for row, cells in table.items():
        lines.append(f"| {row} | " + " | ".join(cells[act] for act in ACTS) + " |")
    return "\n".join(lines)


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_from_readme() -> dict[str, dict[str, str]]:
    text = (Path(settings.BASE_DIR) / "README.md").read_text()
    section = text.split("## Staff roles", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| Role |")]
    assert lines, "README's Staff roles section has no table starting '| Role |'"
    rows = section.split(lines[0], 1)[1].splitlines()[2:]
    header = _cells(lines[0])[1:]
    table = {}
    for line in rows:
        if not line.startswith("|"):
            break
        name, *cells = _cells(line)
        table[re.sub(r"\W*\(.*\)$", "", name).strip("* ")] = dict(zip(header, cells, strict=True))
    return table


@pytest.mark.django_db
def test_it_states_in_the_readme_what_the_code_lets_each_role_do():
    from_code = _table_from_code()
    assert _table_from_readme() == from_code, (
        "README's role table differs from the code; the code's table is:\n" + _markdown(from_code)
    )
