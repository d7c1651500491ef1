"""Django admin for portal administrators: reference data and accounts. Writes are audited like
browser edits, so the change list shows them too."""

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html

from .forms import AdminLoginForm
from .models import APIToken, AuditLog, Identity, OutboxMessage, User, VirtualOrganisation, VOMembership
from .services import delete_audited, save_audited


class AuditedAdmin(admin.ModelAdmin):
    """A ModelAdmin that creates, edits and deletes through the core's audited save and delete, so the
    audit log records the model's `audit_state()` as for every other entry point."""

    def save_model(self, request, obj, form, change):
        """Nothing yet: save_related saves the object with its relations in one audited save, so that
        the state recorded after includes them (a VO's inline memberships)."""

    def save_related(self, request, form, formsets, change):
        def related(obj):
            form.save_m2m()
            for formset in formsets:
                self.save_formset(request, form, formset, change=change)

        save_audited(request.user, form.instance, message="Edited in the admin", saved=related)

    def delete_model(self, request, obj):
        delete_audited(request.user, obj, message="Deleted in the admin")

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


admin.site.login_form = AdminLoginForm  # failed logins are throttled here as on the login page
admin.site.register(User, UserAdmin)


@admin.register(Identity)
class IdentityAdmin(AuditedAdmin):
    """The X.509 DNs and Check-in subjects linked to accounts: how a caller is recognised as a user."""

    list_display = ("value", "realm", "user")
    list_filter = ("realm",)
    list_select_related = ("user",)
    search_fields = ("value", "user__username", "user__email")
    autocomplete_fields = ("user",)


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


class VOMembershipForm(forms.ModelForm):
    """A membership as an administrator sets it: always a local row (the override that survives logins).

    `source` is shown but disabled rather than left out, so that the (user, vo, source) uniqueness is
    still checked by the form: a duplicate is a form error, not a database error.
    """

    class Meta:
        model = VOMembership
        fields = ("vo", "user", "roles", "groups", "manager", "source")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "source" in self.fields:
            self.fields["source"].disabled = True
            self.fields[
                "source"
            ].help_text = "Rows added here are the local override; Check-in rows are replaced at login."

    def _names(self, field):
        value = self.cleaned_data.get(field)
        if value in (None, ""):
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) and 0 < len(item) <= 255 for item in value):
            raise ValidationError('Give a JSON list of names, e.g. ["member"].')
        return value

    def clean_roles(self):
        return self._names("roles")

    def clean_groups(self):
        return self._names("groups")


class LocalMembershipInline(admin.TabularInline):
    """The VO's local memberships, which administrators edit. Check-in rows can be thousands and are
    rewritten at every login, so they are left to the VO membership list (linked from the VO page)."""

    model = VOMembership
    form = VOMembershipForm
    fields = ("user", "roles", "groups", "manager", "source")
    raw_id_fields = ("user",)
    extra = 0
    verbose_name = "local membership"
    verbose_name_plural = "local memberships (set by a portal administrator)"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(source=VOMembership.Source.LOCAL).select_related("user")


@admin.register(VirtualOrganisation)
class VirtualOrganisationAdmin(AuditedAdmin):
    list_display = ("name", "description", "created")
    search_fields = ("name",)
    readonly_fields = ("all_memberships",)
    inlines = [LocalMembershipInline]

    @admin.display(description="All memberships")
    def all_memberships(self, obj):
        if obj.pk is None:
            return "—"
        url = reverse("admin:egiportal_vomembership_changelist") + f"?vo__id__exact={obj.pk}"
        return format_html(
            '<a href="{}">{} membership row(s), from Check-in and local</a>', url, obj.memberships.count()
        )


@admin.register(VOMembership)
class VOMembershipAdmin(AuditedAdmin):
    """VO memberships. Check-in rows are read-only here: the next login would overwrite any edit. A local
    row is the administrators' override, e.g. a VO manager that Check-in cannot express."""

    form = VOMembershipForm
    list_display = ("vo", "user", "manager", "source", "roles")
    list_filter = ("source", "manager")
    list_select_related = ("vo", "user")
    search_fields = ("vo__name", "user__username")
    raw_id_fields = ("user",)
    autocomplete_fields = ("vo",)
    readonly_fields = ("updated",)

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.source == VOMembership.Source.CHECKIN:
            return False
        return super().has_change_permission(request, obj)


@admin.register(OutboxMessage)
class OutboxMessageAdmin(admin.ModelAdmin):
    """The transactional outbox, to watch: what is pending, how often it was tried, why it failed.
    Read-only: a row is written with its change and marked done by the task's own run (egiportal.outbox),
    so an edit here could only lose or repeat work."""

    list_display = ("task", "state", "attempts", "created", "short_error")
    list_filter = ("task",)
    search_fields = ("task", "last_error")
    date_hierarchy = "created"

    @admin.display(description="state")
    def state(self, obj):
        if obj.done_at:
            return "done"
        return "dispatched" if obj.dispatched_at else "pending"

    @admin.display(description="last error")
    def short_error(self, obj):
        return obj.last_error[:120]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
