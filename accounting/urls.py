"""Accounting pages, and the classic Accounting Portal URLs (accounting.md §5.1) under their old paths so that
reporting scripts keep working by changing only the host."""

from django.urls import path, re_path

from . import views

app_name = "accounting"

urlpatterns = [
    path("accounting/", views.pivot_page, name="pivot"),
    # The parts are parsed by the view, so that a bad one gets a 400 saying which, not a 404.
    re_path(r"^(?:accounting/|egi/)?cloud/(?P<parts>.*)$", views.classic, name="classic"),
    re_path(r"^vo_admin/cloud/(?P<parts>.*)$", views.vo_admin, name="vo_admin"),
]
