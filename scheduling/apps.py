from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"
    clinic_area = True  # see clinic.areas
    # Routes that show one appointment's record, checked against the user's sites
    # (clinic.sites): (regex on the route, model of its pk, path to the appointment).
    site_scoped_routes = [
        (r"(^|/)\^?appointments/(<int:pk>|\(\?P<pk>)", "scheduling.Appointment", ""),
    ]

    def ready(self):
        from scheduling import receivers

        receivers.connect()
