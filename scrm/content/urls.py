"""URL routes of this app."""

from django.urls import path

from . import api

urlpatterns = [
    path("api/content/", api.ContentListApi.as_view(), name="content-list"),
    path("api/content/check/", api.ContentCheckApi.as_view(), name="content-check"),
    path("api/content/<int:pk>/", api.ContentDetailApi.as_view(), name="content-detail"),
    path("api/content/<int:pk>/submit/", api.ContentSubmitApi.as_view(), name="content-submit"),
    path("api/content/<int:pk>/approve/", api.ContentApproveApi.as_view(), name="content-approve"),
    path("api/content/<int:pk>/reject/", api.ContentRejectApi.as_view(), name="content-reject"),
    path(
        "api/content/<int:pk>/versions/", api.ContentVersionsApi.as_view(), name="content-versions"
    ),
    path("api/content/<int:pk>/message/", api.ContentMessageApi.as_view(), name="content-message"),
]
