from django.apps import AppConfig


class NursingConfig(AppConfig):
    name = "clinic.nursing"
    label = "nursing"
    verbose_name = "Nursing record"
    clinic_area = True  # see clinic.areas
    # Pages of one round, answer or score, checked against the user's sites (clinic.sites).
    site_scoped_routes = [
        (r"(^|/)rounds/<int:pk>/", "nursing.ObservationRound", "appointment__"),
        (r"(^|/)(checklist-)?answers/<int:pk>/", "nursing.ChecklistAnswer", "appointment__"),
        (r"(^|/)assessments/<int:pk>/", "nursing.DischargeAssessment", "appointment__"),
    ]
    # Until issue 9 these models belonged to the clinic app; audit rows written then name
    # them "clinic.<Model>" (see clinic.areas.object_type_display).
    previous_labels = ("clinic",)

    def ready(self):
        # Safety rules on status changes: registered at startup so they hold for every
        # caller (pages, API, admin). The admin is found by Django's autodiscovery.
        import clinic.nursing.guards  # noqa: F401
        from clinic.nursing.rules import medication_plans
        from scheduling.advice import register_medication_advice

        # The hold table is nursing's; booking pages and reminders ask through scheduling.
        register_medication_advice(medication_plans)

        from clinic.nursing.selectors import baseline_pain_scores
        from scheduling.outcome_sources import register_baseline_pain

        # The nurse's pre-procedure pain is the outcome baseline when no survey gave one.
        register_baseline_pain("nursing", baseline_pain_scores)

        from clinic.nursing.selectors import board_hard_stop_flags
        from scheduling.selectors_board import register_board_card_reader

        # The hard-stop flag on each card of the scheduling boards, read once per board.
        register_board_card_reader(board_hard_stop_flags)

        from clinic.nursing.selectors import outcome_levels_treated
        from scheduling.outcome_sources import register_treated_levels

        # Outcomes are reported by the levels the physician's signed note says were treated.
        register_treated_levels("nursing", outcome_levels_treated)

        from clinic.nursing.selectors import pathway_levels_treated
        from scheduling import pathway

        # The levels a signed note treated place a session in its region for the rules.
        pathway.register("levels", pathway_levels_treated)
