"""URL routes of the lottery: the customer's H5 draw page and the ops API."""

from django.urls import path

from . import api, views

app_name = "lottery"

urlpatterns = [
    path("h5/lottery/<str:token>/", views.h5_draw, name="h5-draw"),
    path(
        "api/lottery/<int:campaign_id>/report/", api.LotteryReportApi.as_view(), name="api-report"
    ),
    path("api/lottery/draws/<int:draw_id>/replay/", api.DrawReplayApi.as_view(), name="api-replay"),
]
