from django.urls import include, path

from scheduling import views_board

urlpatterns = [
    path("board/", views_board.day_board, name="day_board"),
    path("board/week/", views_board.week_board, name="week_board"),
    path("board/physician/", views_board.physician_day, name="physician_day"),
    path("board/print/", views_board.day_list_print, name="day_list_print"),
    path(
        "board/card/<int:pk>/status/",
        views_board.board_card_transition,
        name="board_card_transition",
    ),
    path("appointments/<int:pk>/calendar.ics", views_board.appointment_ics, name="appointment_ics"),
    path("calendar/feed/", views_board.calendar_feed_settings, name="calendar_feed_settings"),
    path("calendar/<str:token>.ics", views_board.physician_feed, name="physician_feed"),
    path("api/v1/", include("scheduling.api_urls")),
]
