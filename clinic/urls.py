from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import DefaultRouter

from clinic import api, health, views
from clinic.areas import area_modules

router = DefaultRouter()
router.register("patients", api.PatientViewSet, basename="patient")
router.register("procedure-types", api.ProcedureTypeViewSet, basename="proceduretype")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("", include("clinic.accounts.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("patients/", views.patient_list, name="patient_list"),
    path("patients/new/", views.patient_create, name="patient_create"),
    path("patients/<int:pk>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:pk>/edit/", views.patient_edit, name="patient_edit"),
    path("patients/<int:pk>/merge/", views.patient_merge, name="patient_merge"),
    path("patients/<int:pk>/clinical/", views.patient_clinical_edit, name="patient_clinical_edit"),
    path("patients/<int:pk>/other-site/", views.cross_site_open, name="cross_site_open"),
    path("patients/<int:pk>/referrals/new/", views.indication_edit, name="indication_create"),
    path(
        "patients/<int:pk>/referrals/<int:indication_pk>/",
        views.indication_edit,
        name="indication_edit",
    ),
    path("diagnoses/options/", views.diagnosis_options, name="diagnosis_options"),
    path("catalogue/", views.procedure_type_list, name="procedure_type_list"),
    path("catalogue/new/", views.procedure_type_create, name="procedure_type_create"),
    path("catalogue/<int:pk>/", views.procedure_type_detail, name="procedure_type_detail"),
    path("catalogue/<int:pk>/edit/", views.procedure_type_edit, name="procedure_type_edit"),
    path("audit/", views.audit_list, name="audit_list"),
    path("outbox/", views.outbox_list, name="outbox_list"),
    path("outbox/<str:name>/", views.outbox_detail, name="outbox_detail"),
    path("", include("clinic.privacy_urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api_schema"),
    path("api/docs/", views.api_docs, name="api_docs"),
    # Each area's pages and API, in INSTALLED_APPS order.
    *(path("", include(urls)) for urls in area_modules("urls")),
    path("admin/", admin.site.urls),
]
