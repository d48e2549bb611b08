import os

from django.apps import AppConfig


class ClinicConfig(AppConfig):
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self):
        from django.db.models.signals import post_migrate

        post_migrate.connect(_sync_roles)

        # The filesystem broker needs its folders before the first message.
        from django.conf import settings

        for key in ("data_folder_in", "control_folder", "processed_folder"):
            folder = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}).get(key)
            if folder:
                os.makedirs(folder, exist_ok=True)


def _sync_roles(sender, **kwargs):
    # Keeps the role groups in step with clinic.roles after every migrate (and test flush).
    # post_migrate fires once per app; acting on the last one means every app's
    # permissions exist by then.
    from django.apps import apps as global_apps

    from clinic.roles import sync_role_groups

    if sender is list(global_apps.get_app_configs())[-1]:
        sync_role_groups()
