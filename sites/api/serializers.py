"""API representations of projects, NGIs, sites and scopes."""

from rest_framework import serializers

from egiportal.api.serializers import BaseModelSerializer, PropertiesField, RelatedField

from ..models import NGI, Country, Project, Scope, Site


class ScopeSerializer(BaseModelSerializer):
    class Meta:
        model = Scope
        fields = ["id", "url", "display", "name", "description", "reserved", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]


class CountrySerializer(BaseModelSerializer):
    class Meta:
        model = Country
        fields = ["id", "display", "code", "name"]
        brief_fields = ["id", "code", "name"]


def scopes_field():
    return RelatedField(ScopeSerializer, "name", queryset=Scope.objects.all(), many=True, required=False)


class ProjectSerializer(BaseModelSerializer):
    class Meta:
        model = Project
        fields = ["id", "url", "display", "name", "description", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "name"]


class NGISerializer(BaseModelSerializer):
    scopes = scopes_field()
    projects = RelatedField(ProjectSerializer, "name", queryset=Project.objects.all(), many=True, required=False)

    class Meta:
        model = NGI
        fields = [
            "id", "url", "display", "name", "description", "email", "rod_email", "helpdesk_email",
            "security_email", "ggus_su", "scopes", "projects", "created", "last_updated",
        ]  # fmt: skip
        brief_fields = ["id", "url", "display", "name"]


class SiteSerializer(BaseModelSerializer):
    name = serializers.CharField(source="short_name", max_length=255)
    ngi = RelatedField(NGISerializer, "name", queryset=NGI.objects.all())
    country = RelatedField(CountrySerializer, "code", queryset=Country.objects.all())
    scopes = scopes_field()
    properties = PropertiesField()

    class Meta:
        model = Site
        fields = [
            "id", "url", "display", "name", "official_name", "primary_key", "ngi", "country", "description",
            "home_url", "giis_url", "domain", "email", "telephone", "emergency_email", "emergency_tel",
            "alarm_email", "helpdesk_email", "csirt_email", "csirt_tel", "ip_range", "ipv6_range", "latitude",
            "longitude", "location", "timezone", "notify", "infrastructure", "certification_status", "scopes",
            "properties", "created", "last_updated",
        ]  # fmt: skip
        read_only_fields = ["primary_key", "certification_status"]
        brief_fields = ["id", "url", "display", "name"]
