from django.urls import path  # noqa: F401

app_name = "tag_rules"
urlpatterns: list = []
