from django.urls import path

from . import api

app_name = "behaviour"
urlpatterns: list = [
    path("api/events/", api.EventsApi.as_view(), name="api-events"),
]
