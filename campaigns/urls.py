"""URL routes of the campaigns app: the merchant and bank-systems API, the customer's
H5 pages and the store staff's redeem page."""

from django.urls import path

from . import api, views

app_name = "campaigns"

urlpatterns = [
    path("api/redemptions/", api.RedemptionApi.as_view(), name="api-redemption"),
    path(
        "api/redemptions/<int:pk>/reverse/",
        api.RedemptionReverseApi.as_view(),
        name="api-redemption-reverse",
    ),
    path("api/coupons/issue/", api.CouponIssueApi.as_view(), name="api-coupon-issue"),
    path("h5/claim/<str:token>/", views.h5_claim, name="h5-claim"),
    path("h5/coupons/<str:token>/", views.h5_coupons, name="h5-coupons"),
    path("m/redeem/", views.merchant_redeem, name="merchant-redeem"),
]
