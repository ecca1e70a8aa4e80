"""URL routes of this app: the customer API, managers' customer pages, customer H5 pages."""

from django.urls import path

from . import api, views

urlpatterns = [
    path("api/customers/", api.CustomerListApi.as_view(), name="api-customer-list"),
    path("api/customers/export/", api.CustomerExportApi.as_view(), name="api-customer-export"),
    path("api/customers/<int:pk>/", api.CustomerDetailApi.as_view(), name="api-customer-detail"),
    path(
        "api/customers/<int:pk>/reveal/",
        api.CustomerRevealApi.as_view(),
        name="api-customer-reveal",
    ),
    path("api/customers/<int:pk>/bind/", api.CustomerBindApi.as_view(), name="api-customer-bind"),
    path(
        "api/customers/<int:pk>/erase/", api.CustomerEraseApi.as_view(), name="api-customer-erase"
    ),
    path(
        "api/customers/<int:pk>/opt-out/",
        api.CustomerOptOutApi.as_view(),
        name="api-customer-opt-out",
    ),
    path("api/bank-records/import/", api.BankRecordImportApi.as_view(), name="api-bank-import"),
    path(
        "api/bank-records/import/jobs/<int:pk>/",
        api.BankImportJobApi.as_view(),
        name="api-bank-import-job",
    ),
    path(
        "api/bank-records/import/jobs/<int:pk>/errors.csv",
        api.BankImportJobErrorsApi.as_view(),
        name="api-bank-import-job-errors",
    ),
    path("customers/", views.customer_list_page, name="customer-list"),
    path("customers/<int:pk>/", views.customer_detail_page, name="customer-detail"),
    path("h5/verify/<str:token>/", views.h5_verify, name="h5-verify"),
    path("h5/unsubscribe/<str:token>/", views.h5_unsubscribe, name="h5-unsubscribe"),
]
