"""Serializer base of the REST API: `url` and `display` on every object, `?brief`/`?fields`/`?omit`,
related objects shown brief and accepted on write as an id or as their natural key."""

from django.contrib.auth import get_user_model
from django.core.exceptions import MultipleObjectsReturned, ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from .. import permissions

URL_TEMPLATES = {}


def api_url(obj, request=None):
    """The API detail URL of `obj` (`api:<model>-detail`), absolute when a request is known.

    A list renders hundreds of these: the path pattern is reversed once per model and the host once
    per request, instead of a URL resolution per object."""
    name = obj._meta.model_name
    if name not in URL_TEMPLATES:
        try:
            URL_TEMPLATES[name] = reverse(f"api:{name}-detail", args=[987654321]).replace("987654321", "{}")
        except NoReverseMatch:
            URL_TEMPLATES[name] = None
    template = URL_TEMPLATES[name]
    if template is None:
        return None
    if request is None:
        return template.format(obj.pk)
    if not hasattr(request, "_api_origin"):
        request._api_origin = request.build_absolute_uri("/")[:-1]
    return request._api_origin + template.format(obj.pk)


class BaseModelSerializer(serializers.ModelSerializer):
    """Every object has `id`, `url` and `display`; `Meta.brief_fields` is its short form.

    `nested=True` renders the brief form (used for related objects and `?brief`); `fields` and `omit`
    pick or drop fields (`?fields=`, `?omit=`). Writes validate with the model's own rules through the
    services the viewset calls, so `validate()` here only checks shapes.
    """

    url = serializers.SerializerMethodField()
    display = serializers.SerializerMethodField()

    def __init__(self, *args, nested=False, fields=None, omit=None, **kwargs):
        self.nested = nested
        super().__init__(*args, **kwargs)
        unknown = sorted((set(fields or ()) | set(omit or ())) - set(self.fields))
        if unknown:
            raise serializers.ValidationError({"fields": f"Unknown field(s): {', '.join(unknown)[:200]}."})
        keep = list(self.Meta.brief_fields) if nested else fields
        if keep:
            for name in set(self.fields) - set(keep):
                self.fields.pop(name)
        for name in omit or ():
            self.fields.pop(name, None)

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj):
        return api_url(obj, self.context.get("request"))

    def get_display(self, obj) -> str:
        return str(obj)

    def to_representation(self, instance):
        """Without the model's `personal_fields` for a caller who may not see personal data."""
        data = super().to_representation(instance)
        for name in self.hidden_personal_fields():
            data.pop(name, None)
        return data

    def hidden_personal_fields(self):
        """The model's personal fields the caller may not see (asked once per request's serializers)."""
        names = getattr(self.Meta.model, "personal_fields", ())
        if not names:
            return ()
        context = self.context
        if "may_see_personal_data" not in context:
            request = context.get("request")
            context["may_see_personal_data"] = permissions.may_see_personal_data(getattr(request, "user", None))
        return () if context["may_see_personal_data"] else names

    def get_fields(self):
        """The fields, without DRF's unique checks: the services (full_clean) check uniqueness with
        GOCDB's messages, and DRF's costs a query per object and races anyway."""
        fields = super().get_fields()
        for field in fields.values():
            field.validators = [v for v in field.validators if not isinstance(v, UniqueValidator)]
        return fields

    def get_unique_together_validators(self):
        return []


class RelatedField(serializers.RelatedField):
    """A related object: shown with its serializer's brief form; written as its id, as its natural
    key (`natural_key` field, e.g. a site's name), or as an object of plain field values.

    `serializer` is a class or its dotted path (for serializers that show each other). With
    `read_only=True` (and no queryset) the field is shown only. Lookups are cached per request, so a
    bulk write naming the same parent a thousand times looks it up once."""

    def __init__(self, serializer, natural_key=None, **kwargs):
        self._serializer = serializer
        self.natural_key = natural_key
        super().__init__(**kwargs)

    @property
    def serializer(self):
        if isinstance(self._serializer, str):
            self._serializer = import_string(self._serializer)
        return self._serializer

    def use_pk_only_optimization(self):
        return False

    def to_representation(self, value):
        # One brief serializer for all rows: building one per value dominated a 1,000-row reply.
        if not hasattr(self, "_brief"):
            self._brief = self.serializer(nested=True, context=self.context)
        return self._brief.to_representation(value)

    def to_internal_value(self, data):
        if not isinstance(data, (int, str)) or isinstance(data, bool):
            return self.look_up(data)
        cache = self.context.setdefault("related_lookups", {})
        key = (self.serializer, type(data), data)
        if key not in cache:
            cache[key] = self.look_up(data)
        return cache[key]

    def look_up(self, data):
        queryset = self.get_queryset()
        label = queryset.model._meta.verbose_name
        for lookup in self.lookups(data, queryset.model):
            try:
                return queryset.get(**lookup)
            except ObjectDoesNotExist:
                continue
            except MultipleObjectsReturned:
                raise serializers.ValidationError(
                    f"More than one {label} matches {str(data)[:100]}; give its id."
                ) from None
            except (ValueError, TypeError, OverflowError, DjangoValidationError):  # Overflow: ids past 64 bits
                continue
        raise serializers.ValidationError(f"No {label} matches {str(data)[:100]}: give its id or name.")

    def lookups(self, data, model):
        """Candidate lookups for `data`: a name is tried before an id, so a site called "42" is found."""
        texts = [*data, *data.values()] if isinstance(data, dict) else [data]
        if isinstance(data, bool) or any("\x00" in str(text) for text in texts):
            return []  # PostgreSQL refuses NUL in text (a DataError): no object has one in a name or field
        if isinstance(data, int):
            return [{"pk": data}]
        if isinstance(data, str):
            by_name = [{self.natural_key: data}] if self.natural_key else []
            # isascii: "³" is a digit to str.isdigit() but not to int()
            return by_name + ([{"pk": int(data)}] if data.isascii() and data.isdigit() and len(data) < 19 else [])
        if isinstance(data, dict) and data:
            # Only plain field names: a lookup such as user__password__startswith must not be a probe.
            names = {f.name for f in model._meta.concrete_fields} | {f.attname for f in model._meta.concrete_fields}
            if all(isinstance(k, str) and k in names and not isinstance(v, (dict, list)) for k, v in data.items()):
                return [data]
        return []

    def get_choices(self, cutoff=None):
        return {}  # the browsable API would otherwise render every site of the federation in a <select>


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class PropertiesField(serializers.Field):
    """Custom properties as a read-only `{key: value}` object (prefetched with the list)."""

    prefetch = "properties"

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        kwargs.setdefault("source", "*")
        super().__init__(**kwargs)

    def to_representation(self, obj) -> dict:
        return {prop.key: prop.value for prop in obj.properties.all()}


class PropertySerializer(BaseModelSerializer):
    """A custom property. Once created, only its value changes: a new key or parent is a new property."""

    class Meta:
        fields = ["id", "url", "display", "parent", "key", "value", "created", "last_updated"]
        brief_fields = ["id", "url", "display", "key"]

    def validate(self, attrs):
        if self.instance is not None:
            if "parent" in attrs and attrs["parent"].pk != self.instance.parent_id:
                raise serializers.ValidationError({"parent": "A property cannot move to another parent."})
            if "key" in attrs and attrs["key"] != self.instance.key:
                raise serializers.ValidationError({"key": "A key cannot be renamed; delete it and add a new one."})
        return attrs


def property_serializer(model, parent_serializer, natural_key=None):
    """The serializer of `model`'s properties, showing their parent in `parent_serializer`'s brief form
    (and accepting it by id or, with `natural_key`, by name)."""
    parent = RelatedField(parent_serializer, natural_key, queryset=parent_serializer.Meta.model.objects.all())
    meta = type("Meta", (PropertySerializer.Meta,), {"model": model})
    return type(f"{model.__name__}Serializer", (PropertySerializer,), {"parent": parent, "Meta": meta})


class FixedFieldsMixin:
    """Writes may only name `Meta.writable_fields`: any other key is a 400 rather than silently ignored
    (a request naming `user` or `status` must not look as if it had been honoured)."""

    def validate(self, attrs):
        given = getattr(self, "initial_data", attrs)  # a list serializer's children have no initial_data
        extra = sorted(set(given) - set(self.Meta.writable_fields))
        if extra:
            allowed = ", ".join(self.Meta.writable_fields)
            raise serializers.ValidationError(
                {str(name)[:60]: f"Cannot be set here; give only {allowed}." for name in extra[:20]}
            )
        return super().validate(attrs)


class UserBriefSerializer(BaseModelSerializer):
    """A user as other objects show it: id, username and name (no link: users see only themselves)."""

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "display"]
        brief_fields = ["id", "username", "display"]
