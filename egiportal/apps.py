from django.apps import AppConfig


class EgiportalConfig(AppConfig):
    name = "egiportal"
    verbose_name = "EGI Portal"
