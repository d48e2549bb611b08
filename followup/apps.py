from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "Follow-up"
    clinic_area = True  # see clinic.areas
    # One response or alert, page or API, checked against the user's sites (clinic.sites).
    site_scoped_routes = [
        (
            r"(^|/)\^?responses/(<int:pk>|\(\?P<pk>)",
            "followup.Response",
            "invitation__appointment__",
        ),
        (
            r"(^|/)\^?alerts/(<int:pk>|\(\?P<pk>)",
            "followup.Alert",
            "response__invitation__appointment__",
        ),
        # A NEWS2 alert has no survey answer: its own appointment.
        (r"(^|/)\^?alerts/(<int:pk>|\(\?P<pk>)", "followup.Alert", "appointment__"),
    ]

    def ready(self):
        from django.db.models.signals import m2m_changed, post_delete, post_save

        from clinic.signals import patient_merged
        from followup import pathway_evidence
        from followup.models import RecallRule
        from followup.receivers import (
            on_appointment_changed,
            on_clinical_warning,
            on_patient_merged,
            on_recall_rule_changed,
        )
        from scheduling.signals import appointment_changed, clinical_warning_raised

        appointment_changed.connect(on_appointment_changed, dispatch_uid="followup.appointments")
        clinical_warning_raised.connect(on_clinical_warning, dispatch_uid="followup.warnings")
        pathway_evidence.register()
        patient_merged.connect(on_patient_merged, dispatch_uid="followup.patient_merge")
        for signal in (post_save, post_delete):
            signal.connect(on_recall_rule_changed, sender=RecallRule, dispatch_uid="recall.rule")
        m2m_changed.connect(
            on_recall_rule_changed, sender=RecallRule.watched.through, dispatch_uid="recall.rule"
        )
