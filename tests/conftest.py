"""Personas for the tests: one user per role, plus an outsider with no role at all."""

import datetime

import pytest
from django.contrib.auth.models import Group, User

from clinic.models import Patient, StaffProfile
from clinic.roles import Role, group_name

PASSWORD = "correct-horse-battery"


def make_staff(username, role=None, **extra):
    user = User.objects.create_user(username=username, password=PASSWORD, **extra)
    StaffProfile.objects.create(user=user, title=role.label if role else "")
    if role:
        user.groups.add(Group.objects.get(name=group_name(role)))
    return user


@pytest.fixture
def front_desk(db):
    return make_staff("frontdesk", Role.FRONT_DESK, first_name="Freja")


@pytest.fixture
def nurse(db):
    return make_staff("nurse", Role.NURSE, first_name="Nina")


@pytest.fixture
def physician(db):
    return make_staff("physician", Role.PHYSICIAN, first_name="Peter", last_name="Holm")


@pytest.fixture
def manager(db):
    return make_staff("manager", Role.MANAGER, first_name="Maja", is_staff=True)


@pytest.fixture
def admin_user(db):
    return make_staff("clinicadmin", Role.ADMIN, is_staff=True)


@pytest.fixture
def outsider(db):
    """Logged in, but holds no clinic role: must be refused everywhere."""
    return make_staff("outsider")


@pytest.fixture
def personas(front_desk, nurse, physician, manager, admin_user, outsider):
    return {
        "front_desk": front_desk,
        "nurse": nurse,
        "physician": physician,
        "manager": manager,
        "admin": admin_user,
        "outsider": outsider,
    }


@pytest.fixture
def patient(db):
    return Patient.objects.create(
        mrn="MRN-0001",
        first_name="Karen",
        last_name="Jensen",
        date_of_birth=datetime.date(1961, 4, 23),
        sex=Patient.Sex.FEMALE,
        email="karen.jensen@example.com",
        phone="+45 20 30 40 50",
        preferred_language="da",
        email_consent=True,
        spinal_history="L4-L5 disc herniation with left L5 radiculopathy",
    )
