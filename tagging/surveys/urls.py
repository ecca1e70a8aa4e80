"""URL routes of surveys: the customer's H5 page and the bank-systems links API."""

from django.urls import path

from . import api, views

app_name = "surveys"
urlpatterns: list = [
    path("h5/s/<str:token>/", views.h5_survey, name="h5-survey"),
    path("api/surveys/<int:pk>/links/", api.SurveyLinksApi.as_view(), name="api-survey-links"),
]
