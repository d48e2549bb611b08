from django.urls import path
from rest_framework.routers import SimpleRouter

from scheduling import api

router = SimpleRouter()
router.register("appointments", api.AppointmentViewSet, basename="api-appointment")

urlpatterns = [
    *router.urls,
    path("slots/", api.SlotFinderView.as_view(), name="api-slots"),
    path("pathway-check/", api.PathwayCheckView.as_view(), name="api-pathway-check"),
]
