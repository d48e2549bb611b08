from django.urls import path

from scheduling import views_availability as views

urlpatterns = [
    path("availability/", views.availability_home, name="availability_home"),
    path("availability/sessions/", views.session_list, name="session_list"),
    path("availability/sessions/new/", views.session_create, name="session_create"),
    path("availability/sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("availability/sessions/<int:pk>/delete/", views.session_delete, name="session_delete"),
    path("availability/leave/", views.unavailability_list, name="unavailability_list"),
    path("availability/leave/new/", views.unavailability_create, name="unavailability_create"),
    path(
        "availability/leave/<int:pk>/edit/",
        views.unavailability_edit,
        name="unavailability_edit",
    ),
    path(
        "availability/leave/<int:pk>/delete/",
        views.unavailability_delete,
        name="unavailability_delete",
    ),
    path(
        "availability/sites/<int:pk>/hours/",
        views.opening_hours_edit,
        name="opening_hours_edit",
    ),
    path("slots/", views.slot_finder, name="slot_finder"),
]
