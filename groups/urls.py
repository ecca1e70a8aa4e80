"""URL routes of this app (included at the site root)."""

from django.urls import path

from . import api, views

app_name = "groups"

urlpatterns = [
    path("h5/join/", views.join_page, name="join"),
    path("api/groups/", api.GroupListApi.as_view(), name="api-groups"),
    path("api/routing/", api.RoutingApi.as_view(), name="api-routing"),
]
