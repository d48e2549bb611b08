from django.urls import path

from scheduling import views_booking as views

urlpatterns = [
    path("appointments/", views.appointment_list, name="appointment_list"),
    path("appointments/book/", views.appointment_book, name="appointment_book"),
    path(
        "appointments/book/patients/",
        views.booking_patient_options,
        name="booking_patient_options",
    ),
    path("appointments/<int:pk>/", views.appointment_detail, name="appointment_detail"),
    path(
        "appointments/<int:pk>/reschedule/",
        views.appointment_reschedule,
        name="appointment_reschedule",
    ),
    path(
        "appointments/<int:pk>/duration/",
        views.appointment_duration,
        name="appointment_duration",
    ),
    path("appointments/<int:pk>/cancel/", views.appointment_cancel, name="appointment_cancel"),
    path(
        "appointments/<int:pk>/status/",
        views.appointment_transition,
        name="appointment_transition",
    ),
    path(
        "appointments/<int:pk>/undo-check-in/",
        views.appointment_check_in_undo,
        name="appointment_check_in_undo",
    ),
    path("waitlist/", views.waitlist, name="waitlist"),
    path("waitlist/add/", views.waitlist_add, name="waitlist_add"),
    path("waitlist/<int:pk>/remove/", views.waitlist_remove, name="waitlist_remove"),
]
