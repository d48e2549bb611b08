from django.urls import include, path
from rest_framework.routers import SimpleRouter

from followup import (
    api,
    api_outcomes,
    views_outcomes,
    views_patient,
    views_plans,
    views_public,
    views_recall,
    views_staff,
)

# SimpleRouter: no second "api-root" view next to the clinic's router.
router = SimpleRouter()
router.register("invitations", api.InvitationViewSet, basename="followup-invitation")
router.register("responses", api.ResponseViewSet, basename="followup-response")
router.register("alerts", api.AlertViewSet, basename="followup-alert")
router.register(
    "outcomes/episodes", api_outcomes.OutcomeEpisodeViewSet, basename="followup-outcome-episode"
)
router.register(
    "outcomes/summary", api_outcomes.OutcomeSummaryViewSet, basename="followup-outcome-summary"
)

urlpatterns = [
    # Patient links from emails (no login).
    path("s/<str:token>/", views_public.survey_start, name="survey_start"),
    path("survey/", views_public.survey, name="survey"),
    path("survey/draft/", views_public.survey_draft, name="survey_draft"),
    path("survey/thanks/", views_public.survey_thanks, name="survey_thanks"),
    path("r/confirm/<str:token>/", views_public.appointment_confirm, name="appointment_confirm"),
    path(
        "r/reschedule/<str:token>/",
        views_public.appointment_reschedule_request,
        name="appointment_reschedule_request",
    ),
    path("u/<str:token>/", views_public.unsubscribe, name="unsubscribe"),
    # Staff worklists.
    path("followup/", views_staff.followup_worklist, name="followup_worklist"),
    path("followup/responses/", views_staff.response_list, name="response_list"),
    path("followup/responses/<int:pk>/", views_staff.response_detail, name="response_detail"),
    path("followup/alerts/", views_staff.alert_list, name="alert_list"),
    path("patients/<int:pk>/followup/", views_patient.patient_followup, name="patient_followup"),
    path(
        "followup/alerts/<int:pk>/acknowledge/",
        views_staff.alert_acknowledge_view,
        name="alert_acknowledge",
    ),
    path(
        "followup/reschedule-requests/",
        views_staff.reschedule_requests,
        name="reschedule_requests",
    ),
    path(
        "followup/reschedule-requests/<int:pk>/handled/",
        views_staff.reschedule_request_handled,
        name="reschedule_request_handled",
    ),
    path("followup/failed/", views_staff.failed_sends, name="failed_sends"),
    path(
        "followup/failed/<int:pk>/retry/",
        views_staff.invitation_retry_view,
        name="invitation_retry",
    ),
    path("followup/nonresponders/", views_staff.nonresponders, name="nonresponders"),
    path("followup/not-emailed/", views_staff.not_emailed, name="not_emailed"),
    path(
        "followup/nonresponders/<int:pk>/",
        views_staff.nonresponder_work,
        name="nonresponder_work",
    ),
    path("followup/outcomes/", views_outcomes.outcomes, name="outcomes"),
    path("followup/outcomes/episodes/", views_outcomes.outcome_episodes, name="outcome_episodes"),
    path("followup/recall/", views_recall.recall_list, name="recall_list"),
    # Care plans (managers edit; clinical staff read).
    path("followup/plans/", views_plans.care_plan_list, name="care_plan_list"),
    path("followup/plans/<int:pk>/", views_plans.care_plan_edit, name="care_plan_edit"),
    path(
        "followup/plans/<int:pk>/history/",
        views_plans.care_plan_history,
        name="care_plan_history",
    ),
    path(
        "followup/plans/<int:pk>/preparation/",
        views_plans.care_plan_preparation,
        name="care_plan_preparation",
    ),
    path(
        "followup/plans/steps/<int:pk>/preview/",
        views_plans.care_plan_step_preview,
        name="care_plan_step_preview",
    ),
    path("api/v1/followup/", include(router.urls)),
]
