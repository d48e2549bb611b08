from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"
    verbose_name = "Scheduling"
    clinic_area = True  # see clinic.areas

    def ready(self):
        from scheduling import receivers

        receivers.connect()
