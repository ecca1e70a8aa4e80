"""URL routes of the WeCom app (mounted at /wecom/)."""

from django.urls import path

from . import views

app_name = "wecom"

urlpatterns = [
    path("callback/", views.callback, name="callback"),
    path("ping-trivial/", views.ping_trivial, name="ping-trivial"),
]
