"""URL routes of referral: the bank systems' conversion API and the inviter's H5 page."""

from django.urls import path

from . import api, views

app_name = "referral"

urlpatterns = [
    path("api/referrals/conversions/", api.ConversionApi.as_view(), name="api-conversion"),
    path("api/referrals/invite-links/", api.InviteLinkApi.as_view(), name="api-invite-link"),
    path("h5/invite/<str:token>/", views.h5_invite, name="h5-invite"),
    path("h5/invite-from/<str:token>/", views.h5_invite_from_claim, name="h5-invite-from-claim"),
]
