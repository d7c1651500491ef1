"""Showing accounting numbers: Decimals rounded for display only (accounting.reports.display)."""

from django import template

from accounting import reports

register = template.Library()


@register.filter
def amount(value, places=2):
    """A Decimal rounded half up to `places` decimals, with thousands separated by a thin space."""
    if value in (None, ""):
        return ""
    number = reports.display(value, int(places))
    return f"{number:,}".replace(",", "\u202f")


@register.filter
def lookup(mapping, key):
    return mapping.get(key)


@register.filter
def percent_of(value, pivot):
    """`value` as a percentage of the pivot's grand total, rounded for display."""
    return amount(pivot.percent(value))
