from django.urls import include, path

# One module per part of scheduling, so each can grow on its own.
urlpatterns = [
    path("", include("scheduling.urls_booking")),
    path("", include("scheduling.urls_board")),
    path("", include("scheduling.urls_availability")),
    path("", include("scheduling.urls_medication")),
]
