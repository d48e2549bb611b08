"""What every staff request reads about its user (clinic.auth_backends.ClinicModelBackend):
the user with the staff profile in one query, then the permissions and roles in one more,
exactly the permissions Django's ModelBackend reads."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission

from clinic.auth_backends import ClinicModelBackend
from clinic.roles import Role, roles_of

User = get_user_model()


def fresh(user):
    """The user as a new request loads it: no permissions remembered yet."""
    return User.objects.get(pk=user.pk)


@pytest.fixture
def colleague_with_own_permission(nurse):
    """A nurse given one more permission directly, besides her role's."""
    nurse.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    return nurse


def test_it_reads_what_django_reads_for_every_persona(personas, colleague_with_own_permission):
    inactive = User.objects.create(username="left.the.clinic", is_active=False)
    inactive.groups.add(Group.objects.get(name="Nurse"))
    superuser = User.objects.create(username="root", is_superuser=True)
    for user in [*personas.values(), inactive, superuser]:
        ours = ClinicModelBackend().get_all_permissions(fresh(user))
        assert ours == ModelBackend().get_all_permissions(fresh(user)), user.username
    assert "clinic.view_auditevent" in fresh(colleague_with_own_permission).get_all_permissions()
    assert not fresh(inactive).has_perm("clinic.view_patient")
    assert fresh(superuser).has_perm("clinic.view_patient")


def test_it_reads_a_user_s_permissions_and_roles_in_one_query(nurse, django_assert_num_queries):
    for first in ("permissions", "roles"):
        user = fresh(nurse)
        with django_assert_num_queries(1):
            if first == "roles":
                assert roles_of(user) == {Role.NURSE}
            assert user.has_perm("clinic.view_clinical_record")
            assert not user.has_perm("clinic.view_auditevent")
            assert user.has_perms(["clinic.view_patient", "clinic.change_clinical_record"])
            assert roles_of(user) == {Role.NURSE}


def test_it_reads_the_roles_of_a_superuser_and_of_a_user_who_left(db):
    superuser = User.objects.create(username="root", is_superuser=True)
    superuser.groups.add(Group.objects.get(name="Admin"))
    left = User.objects.create(username="left.the.clinic", is_active=False)
    left.groups.add(Group.objects.get(name="Nurse"))
    assert roles_of(fresh(superuser)) == {Role.ADMIN}
    assert roles_of(fresh(left)) == {Role.NURSE}
    assert fresh(superuser).has_perm("auth.delete_group")  # a superuser has them all
    assert not fresh(left).has_perm("clinic.view_patient")


def test_it_sees_a_role_taken_away_at_the_next_request(nurse):
    assert fresh(nurse).has_perm("clinic.change_clinical_record")
    nurse.groups.clear()
    assert not fresh(nurse).has_perm("clinic.change_clinical_record")


def test_it_loads_the_session_user_with_the_staff_profile(nurse, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = ClinicModelBackend().get_user(nurse.pk)
        assert user.staff_profile.title is not None
    assert ClinicModelBackend().get_user(10**9) is None


def test_it_refuses_the_session_of_a_user_who_left(nurse):
    nurse.is_active = False
    nurse.save()
    assert ClinicModelBackend().get_user(nurse.pk) is None


def test_it_loads_a_session_s_user_as_the_orm_does(
    personas, colleague_with_own_permission, django_assert_num_queries
):
    """The session's user, read by hand-written SQL on PostgreSQL in one query: the same
    fields as the ORM's select_related read, its staff profile (or its absence), and the
    permissions, roles and sites every page asks for, all as they are read one by one."""
    from clinic.models import StaffProfile
    from clinic.sites import user_site_ids
    from tests.factories import SiteFactory

    no_profile = User.objects.create(username="no.profile")
    superuser = User.objects.create(username="root", is_superuser=True)
    superuser.groups.add(Group.objects.get(name="Admin"))
    colleague_with_own_permission.staff_profile.sites.add(SiteFactory(), SiteFactory())
    backend = ClinicModelBackend()
    for user in [*personas.values(), no_profile, superuser]:
        expected = User.objects.select_related("staff_profile").get(pk=user.pk)
        sites = frozenset(
            StaffProfile.sites.through.objects.filter(staffprofile__user=user).values_list(
                "site_id", flat=True
            )
        )
        with django_assert_num_queries(1):
            loaded = backend.get_user(user.pk)
            profile = getattr(loaded, "staff_profile", None)
            roles = roles_of(loaded)
            site_ids = user_site_ids(loaded)
            if not user.is_superuser:
                permissions = loaded.get_all_permissions()
        assert roles == roles_of(fresh(user)), user.username
        assert site_ids == (sites or None), user.username
        if not user.is_superuser:
            assert permissions == ModelBackend().get_all_permissions(fresh(user)), user.username
        else:
            assert loaded.has_perm("auth.delete_group")
        assert loaded is not None and not loaded._state.adding and loaded._state.db == "default"
        for field in User._meta.concrete_fields:
            assert getattr(loaded, field.attname) == getattr(expected, field.attname), field
        if profile is None:
            assert not hasattr(expected, "staff_profile")
        else:
            assert profile.pk == expected.staff_profile.pk and profile.user is loaded
            assert profile.title == expected.staff_profile.title
    assert backend.get_user(no_profile.pk + 1000) is None


def test_it_refuses_a_session_s_user_who_may_not_sign_in(nurse):
    nurse.is_active = False
    nurse.save()
    assert ClinicModelBackend().get_user(nurse.pk) is None
    with pytest.raises(ValueError):
        ClinicModelBackend().get_user("not an id")


@pytest.mark.parametrize("elsewhere", ["sqlite", "a field that converts"])
def test_it_reads_the_user_by_the_orm_where_raw_rows_would_not_do(personas, monkeypatch, elsewhere):
    """Not on PostgreSQL (SQLite under `make run`), or once a user or profile field converts
    what the database returns, the ORM reads the session's user: the same user, roles, sites
    and permissions."""
    import clinic.auth_backends
    from clinic.sites import user_site_ids

    expected = {
        user.pk: (
            roles_of(fresh(user)),
            user_site_ids(fresh(user)),
            fresh(user).get_all_permissions(),
        )
        for user in personas.values()
    }
    if elsewhere == "sqlite":
        from django.db import connection

        monkeypatch.setattr(connection, "vendor", "sqlite")
    else:
        monkeypatch.setattr(clinic.auth_backends, "_read_raw", lambda: False)
    for user in personas.values():
        loaded = ClinicModelBackend().get_user(user.pk)
        assert loaded == user and loaded.username == user.username
        assert (roles_of(loaded), user_site_ids(loaded), loaded.get_all_permissions()) == (
            expected[user.pk]
        )
