from django.urls import path

from clinic import privacy_views

urlpatterns = [
    path("patients/<int:pk>/export/", privacy_views.patient_export_view, name="patient_export"),
    path(
        "patients/<int:pk>/anonymise/",
        privacy_views.patient_anonymise_view,
        name="patient_anonymise",
    ),
]
