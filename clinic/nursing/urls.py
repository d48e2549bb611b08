from django.urls import include, path

from clinic.nursing import api, views

pages = [
    path("board/", views.board, name="nursing_board"),
    path("appointments/<int:pk>/", views.record, name="nursing_record"),
    path("appointments/<int:pk>/check-in/", views.check_in, name="nursing_check_in"),
    path("appointments/<int:pk>/start/", views.start, name="nursing_start"),
    path("appointments/<int:pk>/recovery/", views.end, name="nursing_end"),
    path("appointments/<int:pk>/checklist/<str:phase>/", views.checklist, name="nursing_checklist"),
    path(
        "appointments/<int:pk>/time-out/", views.time_out_confirm, name="nursing_time_out_confirm"
    ),
    path("appointments/<int:pk>/hold-times/", views.hold_text, name="nursing_hold_text"),
    path("answers/<int:pk>/amend/", views.answer_amend, name="nursing_answer_amend"),
    path("appointments/<int:pk>/rounds/new/", views.round_new, name="nursing_round_new"),
    path("rounds/preview/", views.round_preview, name="nursing_round_preview"),
    path("rounds/<int:pk>/amend/", views.round_amend, name="nursing_round_amend"),
    path("rounds/<int:pk>/escalation/", views.escalation_new, name="nursing_escalation_new"),
    path("appointments/<int:pk>/discharge/", views.discharge, name="nursing_discharge"),
    path("assessments/<int:pk>/amend/", views.assessment_amend, name="nursing_assessment_amend"),
    path("appointments/<int:pk>/instructions/", views.instructions, name="nursing_instructions"),
    path("appointments/<int:pk>/note/", views.note, name="nursing_note"),
    path("appointments/<int:pk>/note/edit/", views.note_edit, name="nursing_note_edit"),
    path("appointments/<int:pk>/note/amend/", views.note_amend, name="nursing_note_amend"),
    path("appointments/<int:pk>/note/print/", views.note_print, name="nursing_note_print"),
    path("note-templates/", views.note_template_list, name="nursing_note_template_list"),
    path(
        "note-templates/<int:pk>/edit/",
        views.note_template_edit,
        name="nursing_note_template_edit",
    ),
    path("protocols/", views.protocol_list, name="nursing_protocol_list"),
    path("protocols/<int:pk>/edit/", views.protocol_edit, name="nursing_protocol_edit"),
    path("checklist-items/", views.checklist_item_list, name="nursing_checklist_item_list"),
    path(
        "checklist-items/new/",
        views.checklist_item_create,
        name="nursing_checklist_item_create",
    ),
    path(
        "checklist-items/<int:pk>/edit/",
        views.checklist_item_edit,
        name="nursing_checklist_item_edit",
    ),
    path("anticoagulant-holds/", views.hold_list, name="nursing_hold_list"),
    path("anticoagulant-holds/new/", views.hold_create, name="nursing_hold_create"),
    path("anticoagulant-holds/<int:pk>/edit/", views.hold_edit, name="nursing_hold_edit"),
]

api_views = [
    path("appointments/<int:pk>/note/", api.ProcedureNoteView.as_view(), name="api_nursing_note"),
    path(
        "appointments/<int:pk>/note/sign/",
        api.ProcedureNoteSignView.as_view(),
        name="api_nursing_note_sign",
    ),
    path(
        "appointments/<int:pk>/note/amend/",
        api.ProcedureNoteAmendView.as_view(),
        name="api_nursing_note_amend",
    ),
    path(
        "appointments/<int:pk>/checklist/",
        api.ChecklistView.as_view(),
        name="api_nursing_checklist",
    ),
    path(
        "checklist-answers/<int:pk>/amend/",
        api.AnswerAmendView.as_view(),
        name="api_nursing_answer_amend",
    ),
    path("appointments/<int:pk>/time-out/", api.TimeOutView.as_view(), name="api_nursing_time_out"),
    path("appointments/<int:pk>/rounds/", api.RoundListView.as_view(), name="api_nursing_rounds"),
    path("rounds/<int:pk>/amend/", api.RoundAmendView.as_view(), name="api_nursing_round_amend"),
    path(
        "rounds/<int:pk>/escalations/",
        api.EscalationView.as_view(),
        name="api_nursing_escalations",
    ),
    path(
        "appointments/<int:pk>/discharge-assessments/",
        api.AssessmentListView.as_view(),
        name="api_nursing_assessments",
    ),
    path(
        "appointments/<int:pk>/discharge/",
        api.DischargeView.as_view(),
        name="api_nursing_discharge",
    ),
]

urlpatterns = [
    path("nursing/", include(pages)),
    path("api/v1/nursing/", include(api_views)),
]
