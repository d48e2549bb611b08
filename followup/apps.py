from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "Follow-up"
    clinic_area = True  # see clinic.areas

    def ready(self):
        from followup.receivers import on_appointment_changed
        from scheduling.signals import appointment_changed

        appointment_changed.connect(on_appointment_changed, dispatch_uid="followup.appointments")
