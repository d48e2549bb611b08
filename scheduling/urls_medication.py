from django.urls import path

from scheduling import views_medication as views

urlpatterns = [
    path("medication-calls/", views.medication_calls, name="medication_calls"),
    path(
        "medication-calls/<int:pk>/done/",
        views.medication_call_mark,
        name="medication_call_mark",
    ),
    path(
        "appointments/book/medication-plan/",
        views.booking_medication_plan,
        name="booking_medication_plan",
    ),
]
