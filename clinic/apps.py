import os

from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ClinicConfig(AppConfig):
    default = True  # clinic.apps also holds the admin's config
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_roles)

        from clinic.accounts import receivers

        receivers.connect()

        from django.contrib.auth.signals import user_logged_in

        from clinic.middleware import touch_session_at_login

        user_logged_in.connect(touch_session_at_login, dispatch_uid="clinic-session-touch")

        # The filesystem broker needs its folders before the first message.
        from django.conf import settings

        for key in ("data_folder_in", "control_folder", "processed_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)


class ClinicAdminConfig(admin_apps.AdminConfig):
    """The Django admin, on the clinic's login page and behind its second factor."""

    default = False
    default_site = "clinic.admin_site.ClinicAdminSite"


def _sync_roles(sender, **kwargs):
    # Keeps the role groups in step with clinic.roles after every migrate (and test flush).
    # post_migrate fires once per app; acting on the last one means every app's
    # permissions exist by then.
    from django.apps import apps as global_apps

    from clinic.roles import sync_role_groups

    if sender is list(global_apps.get_app_configs())[-1]:
        sync_role_groups()
