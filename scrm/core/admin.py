from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from rest_framework.authtoken.admin import TokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Audit records are evidence: nobody edits or deletes them from the admin."""

    list_display = ("at", "actor_name", "action", "target_type", "target_id", "ip")
    list_filter = ("action", "target_type")
    search_fields = ("actor_name", "target_id", "request_id")
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def token_key_masked(key: str | None) -> str:
    """Enough of an API token's key to tell two apart, never enough to use it."""
    return f"{key[:4]}…" if key else ""


# The admin prints an object as str(obj) in titles, breadcrumbs, the delete
# confirmation, its messages and the action log; a token's is its key. TokenProxy
# is the admin's own stand-in for Token (API authentication uses Token itself).
TokenProxy.__str__ = lambda self: token_key_masked(self.key)

if admin.site.is_registered(TokenProxy):
    admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class MaskedTokenAdmin(TokenAdmin):
    """DRF's token admin, with the key masked; tokens are found by username only."""

    list_display = ("key_masked", "user", "created")

    @admin.display(description=_("密钥"))
    def key_masked(self, obj: TokenProxy) -> str:
        return token_key_masked(obj.key)
