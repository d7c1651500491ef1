"""Django admin for portal administrators: reference data and accounts. Writes are audited like
browser edits, so the change list shows them too."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from . import audit
from .choices import AuditAction
from .models import APIToken, AuditLog, Identity, User


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin that records creations, edits and deletions in the audit log."""

    def snapshot(self, obj):
        """The audited state of `obj`; admins of models without BaseModel.snapshot() override this."""
        return obj.snapshot()

    def save_model(self, request, obj, form, change):
        self._before = self.snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        action = AuditAction.UPDATE if change else AuditAction.CREATE
        audit.record(request.user, action, obj, self._before, self.snapshot(obj), "Edited in the admin")

    def delete_model(self, request, obj):
        audit.record(request.user, AuditAction.DELETE, obj, self.snapshot(obj), None, "Deleted in the admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.register(User, UserAdmin)


@admin.register(Identity)
class IdentityAdmin(AuditedAdmin):
    """The X.509 DNs and Check-in subjects linked to accounts: how a caller is recognised as a user."""

    list_display = ("value", "realm", "user")
    list_filter = ("realm",)
    list_select_related = ("user",)
    search_fields = ("value", "user__username", "user__email")
    autocomplete_fields = ("user",)

    def snapshot(self, obj):
        return {"user": obj.user.username, "realm": obj.realm, "value": obj.value}


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("time", "user_name", "action", "content_type", "object_repr")
    list_filter = ("action", "content_type")
    search_fields = ("object_repr", "user_name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(APIToken)
class APITokenAdmin(admin.ModelAdmin):
    """Personal API tokens: administrators see them (never their secrets) and revoke leaked ones."""

    list_display = ("prefix", "user", "description", "write_enabled", "expires", "last_used", "revoked")
    list_filter = ("write_enabled", "revoked")
    list_select_related = ("user",)
    search_fields = ("prefix", "user__username", "description")
    readonly_fields = ("user", "prefix", "description", "write_enabled", "expires", "created", "last_used", "revoked")
    exclude = ("digest",)
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # users make their own tokens, which shows the secret once

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset):
        from django.core.exceptions import ValidationError

        from .services import revoke_api_token

        revoked = 0
        for token in queryset.filter(revoked__isnull=True):
            try:
                revoke_api_token(request.user, token)
                revoked += 1
            except ValidationError:
                continue
        self.message_user(request, f"{revoked} token(s) revoked.")
