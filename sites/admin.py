from django.contrib import admin

from egiportal.admin import AuditedAdmin

from .models import NGI, Country, Project, Scope


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
