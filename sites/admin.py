from django.contrib import admin

from egiportal.admin import AuditedAdmin

from .models import NGI, APICredential, Country, Project, Scope


@admin.register(Project)
class ProjectAdmin(AuditedAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)
    filter_horizontal = ("ngis",)


@admin.register(NGI)
class NGIAdmin(AuditedAdmin):
    list_display = ("name", "email")
    search_fields = ("name",)
    filter_horizontal = ("scopes",)


@admin.register(Scope)
class ScopeAdmin(AuditedAdmin):
    list_display = ("name", "reserved", "description")
    list_filter = ("reserved",)
    search_fields = ("name",)


@admin.register(Country)
class CountryAdmin(admin.ModelAdmin):
    list_display = ("code", "name")
    search_fields = ("code", "name")


@admin.register(APICredential)
class APICredentialAdmin(AuditedAdmin):
    """Find, reassign, edit and delete site API credentials. They are added on the site page, which checks
    identifier formats and issues token secrets; the token digest is never shown, nor audited."""

    list_display = ("identifier", "kind", "site", "user", "allow_write", "last_renewed", "last_used")
    list_filter = ("kind", "allow_write")
    list_select_related = ("site", "user")
    search_fields = ("identifier", "site__short_name", "user__username")
    fields = ("site", "kind", "identifier", "user", "allow_write", "last_renewed", "last_used", "created")
    readonly_fields = ("site", "kind", "identifier", "last_used", "created")
    # Reassigning the owner is how an administrator frees a user for deletion (the owner link is PROTECT).
    autocomplete_fields = ("user",)

    def has_add_permission(self, request):
        return False
