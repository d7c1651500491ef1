from django.apps import AppConfig
from django.urls import register_converter


class EgiportalConfig(AppConfig):
    name = "egiportal"
    verbose_name = "EGI Portal"

    def ready(self):
        from .converters import IdConverter

        register_converter(IdConverter, "id")
