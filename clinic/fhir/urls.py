"""/fhir/R4/: mounted by clinic.urls."""

from django.urls import path

from clinic.fhir import views

urlpatterns = [
    path("metadata", views.metadata, name="fhir_metadata"),
    path("$export", views.export_system, name="fhir_export"),
    path("Patient/$export", views.export_patients, name="fhir_patient_export"),
    path("$export-status/<int:job_id>", views.export_status, name="fhir_export_status"),
    path(
        "$export-file/<int:job_id>/<str:resource_type>.ndjson",
        views.export_file,
        name="fhir_export_file",
    ),
    path(
        "Patient/<str:resource_id>/$everything",
        views.patient_everything,
        name="fhir_patient_everything",
    ),
    path("<str:resource_type>", views.search_type, name="fhir_search"),
    path("<str:resource_type>/<str:resource_id>", views.read, name="fhir_read"),
    path("<path:rest>", views.unknown, name="fhir_unknown"),
]
