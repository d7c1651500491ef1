from django.contrib import admin

from egiportal.admin import AuditedAdmin

from .models import ServiceType


@admin.register(ServiceType)
class ServiceTypeAdmin(AuditedAdmin):
    list_display = ("name", "monitoring_exception", "description")
    list_filter = ("monitoring_exception",)
    search_fields = ("name",)
