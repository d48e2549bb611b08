"""/fhir/R4/: included at the site root with the other areas' URLs (clinic.areas)."""

from django.urls import include, path

from clinic.fhir import views

fhir_patterns = [
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

urlpatterns = [path("fhir/R4/", include(fhir_patterns))]
