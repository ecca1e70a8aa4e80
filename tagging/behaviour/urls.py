from django.urls import path

from . import api, views

app_name = "behaviour"
urlpatterns: list = [
    path("api/events/", api.EventsApi.as_view(), name="api-events"),
    path("t/gone/", views.link_gone, name="link-gone"),
    path("t/<str:token>", views.tracked_link, name="tracked-link"),
    path("h5/a/<str:token>/", views.h5_article, name="h5-article"),
    path("h5/a/<str:token>/dwell", views.h5_article_dwell, name="h5-article-dwell"),
]
