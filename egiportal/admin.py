"""Django admin for portal administrators: reference data and accounts. Writes are audited like
browser edits, so the change list shows them too."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from . import audit
from .choices import AuditAction
from .models import AuditLog, User


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin that records creations, edits and deletions in the audit log."""

    def save_model(self, request, obj, form, change):
        self._before = type(obj).objects.get(pk=obj.pk).snapshot() if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        action = AuditAction.UPDATE if change else AuditAction.CREATE
        audit.record(request.user, action, obj, self._before, obj.snapshot(), "Edited in the admin")

    def delete_model(self, request, obj):
        audit.record(request.user, AuditAction.DELETE, obj, obj.snapshot(), None, "Deleted in the admin")
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.register(User, UserAdmin)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("time", "user_name", "action", "content_type", "object_repr")
    list_filter = ("action", "content_type")
    search_fields = ("object_repr", "user_name")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
