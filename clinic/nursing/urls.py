from django.urls import path

from clinic.nursing import api, views

urlpatterns = [
    path("nursing/board/", views.board, name="nursing_board"),
    path("nursing/appointments/<int:pk>/", views.record, name="nursing_record"),
    path("nursing/appointments/<int:pk>/check-in/", views.check_in, name="nursing_check_in"),
    path("nursing/appointments/<int:pk>/start/", views.start, name="nursing_start"),
    path("nursing/appointments/<int:pk>/recovery/", views.end, name="nursing_end"),
    path(
        "nursing/appointments/<int:pk>/checklist/<str:phase>/",
        views.checklist,
        name="nursing_checklist",
    ),
    path(
        "nursing/appointments/<int:pk>/time-out/",
        views.time_out_confirm,
        name="nursing_time_out_confirm",
    ),
    path("nursing/answers/<int:pk>/amend/", views.answer_amend, name="nursing_answer_amend"),
    path("nursing/appointments/<int:pk>/rounds/new/", views.round_new, name="nursing_round_new"),
    path("nursing/rounds/<int:pk>/amend/", views.round_amend, name="nursing_round_amend"),
    path(
        "nursing/rounds/<int:pk>/escalation/",
        views.escalation_new,
        name="nursing_escalation_new",
    ),
    path("nursing/appointments/<int:pk>/discharge/", views.discharge, name="nursing_discharge"),
    path(
        "nursing/assessments/<int:pk>/amend/",
        views.assessment_amend,
        name="nursing_assessment_amend",
    ),
    path(
        "nursing/appointments/<int:pk>/instructions/",
        views.instructions,
        name="nursing_instructions",
    ),
    path("nursing/protocols/", views.protocol_list, name="nursing_protocol_list"),
    path("nursing/protocols/<int:pk>/edit/", views.protocol_edit, name="nursing_protocol_edit"),
    path("nursing/checklist-items/", views.checklist_item_list, name="nursing_checklist_item_list"),
    path(
        "nursing/checklist-items/new/",
        views.checklist_item_create,
        name="nursing_checklist_item_create",
    ),
    path(
        "nursing/checklist-items/<int:pk>/edit/",
        views.checklist_item_edit,
        name="nursing_checklist_item_edit",
    ),
    path("nursing/anticoagulant-holds/", views.hold_list, name="nursing_hold_list"),
    path("nursing/anticoagulant-holds/new/", views.hold_create, name="nursing_hold_create"),
    path("nursing/anticoagulant-holds/<int:pk>/edit/", views.hold_edit, name="nursing_hold_edit"),
    # API
    path(
        "api/v1/nursing/appointments/<int:pk>/checklist/",
        api.ChecklistView.as_view(),
        name="api_nursing_checklist",
    ),
    path(
        "api/v1/nursing/checklist-answers/<int:pk>/amend/",
        api.AnswerAmendView.as_view(),
        name="api_nursing_answer_amend",
    ),
    path(
        "api/v1/nursing/appointments/<int:pk>/time-out/",
        api.TimeOutView.as_view(),
        name="api_nursing_time_out",
    ),
    path(
        "api/v1/nursing/appointments/<int:pk>/rounds/",
        api.RoundListView.as_view(),
        name="api_nursing_rounds",
    ),
    path(
        "api/v1/nursing/rounds/<int:pk>/amend/",
        api.RoundAmendView.as_view(),
        name="api_nursing_round_amend",
    ),
    path(
        "api/v1/nursing/rounds/<int:pk>/escalations/",
        api.EscalationView.as_view(),
        name="api_nursing_escalations",
    ),
    path(
        "api/v1/nursing/appointments/<int:pk>/discharge-assessments/",
        api.AssessmentListView.as_view(),
        name="api_nursing_assessments",
    ),
    path(
        "api/v1/nursing/appointments/<int:pk>/discharge/",
        api.DischargeView.as_view(),
        name="api_nursing_discharge",
    ),
]
