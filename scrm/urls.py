from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView

from scrm.core import views as core_views

admin.site.site_header = _("scrm 私域运营平台")
handler404 = core_views.not_found
admin.site.site_title = "scrm"
admin.site.index_title = _("运营后台")

urlpatterns = [
    path("", core_views.home, name="home"),
    path("healthz", core_views.healthz, name="healthz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("wecom/", include("scrm.wecom.urls")),
    path("", include("campaigns.urls")),
    path("", include("campaigns.payouts.urls")),
    path("", include("campaigns.lottery.urls")),
    path("", include("campaigns.referral.urls")),
    path("", include("contacts.urls")),
    path("", include("groups.urls")),
    path("", include("scrm.workspace.urls")),
    path("", include("scrm.content.urls")),
    path("", include("tagging.urls")),
    path("", include("tagging.behaviour.urls")),
    path("", include("tagging.intent.urls")),
    path("", include("tagging.rules.urls")),
    path("", include("tagging.surveys.urls")),
    path("", include("tagging.leads.urls")),
]
