"""Field formats of GOCDB's gocdb_schema.xml (specs/gocdb.md §4), as Django validators.

Models attach these to their fields, so forms, serializers and services all validate the same way.
"""

import ipaddress
import re
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.deconstruct import deconstructible

EMAIL_ATOM = (
    r"[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
    r"(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
)


def _rx(pattern, message):
    return RegexValidator(re.compile(pattern), message)


@deconstructible(path="egiportal.validators.CharacterRule")
class CharacterRule(RegexValidator):
    """A RegexValidator for a field made of a set of characters, whose message names the characters of the
    value outside `allowed` (a regex matching one allowed character): each once, in order of appearance, at
    most MAX_SHOWN, control and other unprintable characters as U+0000. A value that fails on its shape
    alone (a leading space) gets the plain message."""

    MAX_SHOWN = 10

    def __init__(self, regex, message, allowed):
        super().__init__(regex, message)
        self.allowed = allowed
        self._allowed = re.compile(allowed)

    def __call__(self, value):
        try:
            super().__call__(value)
        except ValidationError:
            shown = offending_characters(str(value), self._allowed, self.MAX_SHOWN)
            # the message is %-formatted with params: a "%" it names must not start a placeholder
            message = f"{self.message} Not allowed: {shown}.".replace("%", "%%") if shown else self.message
            raise ValidationError(message, code=self.code, params={"value": value}) from None

    def __eq__(self, other):
        return super().__eq__(other) and self.allowed == getattr(other, "allowed", None)


def offending_characters(value, allowed, limit):
    """The distinct characters of `value` that `allowed` (one character's regex) refuses, shown for a
    message: "<", ">", U+0000 (then " and 3 more" past `limit`)."""
    seen = []
    for char in value:
        if char not in seen and not allowed.fullmatch(char):
            seen.append(char)
    shown = ", ".join(_show(char) for char in seen[:limit])
    return f"{shown} and {len(seen) - limit} more" if len(seen) > limit else shown


def _show(char):
    if not char.isprintable() or (char.isspace() and char != " "):
        return f"U+{ord(char):04X}"
    return f"'{char}'" if char == '"' else f'"{char}"'


def _chars(pattern, message, allowed):
    return CharacterRule(re.compile(pattern), message, allowed)


# \Z instead of $ so that a trailing newline never slips through; single-line fields take " \t" where
# GOCDB says \s, so that no line break can be smuggled into a name, DN or telephone number.
entity_name = _chars(r"^[a-zA-Z0-9\-._]+\Z", "Only letters, digits, '-', '.' and '_' are allowed.", r"[a-zA-Z0-9\-._]")
scope_name = _chars(r"^[A-Za-z0-9_\-.]+\Z", "Only letters, digits, '-', '.' and '_' are allowed.", r"[A-Za-z0-9_\-.]")
group_name = _chars(r"^[A-Za-z0-9_]+\Z", "Only letters, digits and '_' are allowed.", r"[A-Za-z0-9_]")
free_text = _chars(r"^[^`'\";<>]+\Z", "The characters ` ' \" ; < > are not allowed.", r"[^`'\";<>]")
free_text_optional = _chars(r"^[^`'\";<>]*\Z", "The characters ` ' \" ; < > are not allowed.", r"[^`'\";<>]")
official_name = _chars(
    r"^[a-zA-Z0-9\-._()\[\],;:/'\" \t]*\Z",
    "This name contains characters that are not allowed.",
    r"[a-zA-Z0-9\-._()\[\],;:/'\" \t]",
)
domain = _chars(r"^[a-zA-Z0-9\-+._/ \t()']+\Z", "Enter a valid domain.", r"[a-zA-Z0-9\-+._/ \t()']")
# GOCDB's PCRE \w means [A-Za-z0-9_]; Python's \w would also take any Unicode letter, so it is spelt out.
home_url = _rx(
    r"^((http|https)://([A-Za-z0-9_\-]+\.)+[A-Za-z0-9_\-]+([A-Za-z0-9_\-./?%&=]*))?\Z",
    "Enter an http(s) URL such as https://example.org/.",
)
giis_url = _rx(
    r"^(ldap://([A-Za-z0-9_\-]+\.)+[A-Za-z0-9_\-]+([A-Za-z0-9_\-.:,/?%&=]*))?\Z",
    "Enter an LDAP URL such as ldap://bdii.example.org:2170/.",
)
# The patterns below are GOCDB's, rewritten where its nested quantifiers ("(a+)+") made the regex
# engine backtrack exponentially: a 30-character bad value took seconds, a 255-character one forever.
# Each rewrite accepts the same strings (checked exhaustively on short strings), except ip_range, which
# now needs a separator between two address/netmask pairs instead of splitting "255.0.0.01.2.3.4".
_IP_PAIR = r"([0-9]{1,3}\.){3}[0-9]{1,3}/([0-9]{1,3}\.){3}[0-9]{1,3}"
_TEL = r"\+?[0-9\-. \t)(]+((,\+?|\+)[0-9\-. \t)(]+)*,?"
ip_range = _rx(
    rf"^({_IP_PAIR}(?![0-9])|[,;])*\Z",
    "Enter address/netmask pairs separated by ',' or ';', e.g. 192.0.2.0/255.255.255.0.",
)
ipv6_range = _chars(r"^[a-fA-F0-9:/]*\Z", "Enter an IPv6 range such as 2001:db8::/32.", r"[a-fA-F0-9:/]")
latitude = _rx(r"^((\+|-)?0*(([0-8]?[0-9](\.[0-9]+)?)|90))?\Z", "Latitude must be between -90 and 90.")
longitude = _rx(r"^((\+|-)?0*(((([1-9]|1[0-7]))?[0-9](\.[0-9]+)?)|180))?\Z", "Longitude must be between -180 and 180.")
telephone = _rx(rf"^{_TEL}\Z", "Enter a telephone number using digits, spaces, + - . ( ).")
telephone_optional = _rx(rf"^({_TEL})?\Z", "Enter a telephone number using digits, spaces, + - . ( ).")
emails = _rx(
    rf"^{EMAIL_ATOM}(\s*[,;]\s*{EMAIL_ATOM})*\Z", "Enter one or more e-mail addresses separated by ',' or ';'."
)
emails_optional = _rx(
    rf"^({EMAIL_ATOM}(\s*[,;]\s*{EMAIL_ATOM})*)?\Z", "Enter e-mail addresses separated by ',' or ';'."
)
email_optional = _rx(rf"^({EMAIL_ATOM})?\Z", "Enter a single e-mail address.")
hostname = _chars(
    r"^([a-zA-Z0-9\-_]+\.)+[a-zA-Z0-9]+\Z",
    "Enter a fully qualified host name without port, e.g. cloud.example.org.",
    r"[a-zA-Z0-9\-_.]",
)
host_dn = _rx(
    r"^(/[a-zA-Z]+=[a-zA-Z0-9\-_ \t.@,'/)(]+)*\Z", "Enter a DN in slash form, e.g. /C=NL/O=Example/CN=host.example.org."
)
os_arch = _chars(
    r"^[a-zA-Z0-9\-._()\[\],;:/'\" \t]*\Z",
    "This value contains characters that are not allowed.",
    r"[a-zA-Z0-9\-._()\[\],;:/'\" \t]",
)
_url_characters = _chars(
    r"^[0-9a-zA-Z:/.&?_$+!*'(),\-#\[\]@;=~%]*\Z",
    "Enter a URL made of RFC 3986 characters only.",
    r"[0-9a-zA-Z:/.&?_$+!*'(),\-#\[\]@;=~%]",
)
_timezone_shape = _rx(r"^[a-zA-Z_-]+(/[a-zA-Z_-]+)*\Z", "Enter an IANA time zone such as Europe/Amsterdam.")
_URL_SHAPE = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.\-]*://[^/?#]+")
endpoint_name = _chars(
    r"^[a-zA-Z0-9\-._ \t]+\Z", "Only letters, digits, spaces, '-', '.' and '_' are allowed.", r"[a-zA-Z0-9\-._ \t]"
)
interface_name = _chars(
    r"^[a-zA-Z0-9\-._()\[\],;+:/'\" \t]*\Z",
    "This interface name contains characters that are not allowed.",
    r"[a-zA-Z0-9\-._()\[\],;+:/'\" \t]",
)
property_key = _chars(
    r"^[a-zA-Z0-9@_\-\[\]+.]+([ \t]+[a-zA-Z0-9@_\-\[\]+.]+)*\Z",
    "A key uses letters, digits and @ _ - [ ] + . with no leading or trailing space.",
    r"[a-zA-Z0-9@_\-\[\]+. \t]",
)
property_value = _chars(
    r"^[^`'\"<>\s]+(\s+[^`'\"<>\s]+)*\Z",
    "A value may not contain ` ' \" < > nor start or end with a space.",
    r"[^`'\"<>]",
)
ggus_su = _chars(
    r"^[a-zA-Z0-9\-._()\[\],;+:/ \t]*\Z",
    "This support unit contains characters that are not allowed.",
    r"[a-zA-Z0-9\-._()\[\],;+:/ \t]",
)


def timezone(value):
    """GOCDB's time zone shape, and a zone the server knows (zoneinfo): "Mars/Olympus" has the shape only."""
    _timezone_shape(value)
    if value not in available_timezones():
        raise ValidationError(f"{value[:60]!r} is not an IANA time zone; enter one such as Europe/Amsterdam.")


def ipv4(value):
    """GOCDB's HOST_IP shape, with each part a byte (300.1.1.1 has the shape only)."""
    if not value:
        return
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        raise ValidationError("Enter an IPv4 address such as 192.0.2.10.") from None


def url(value):
    """GOCDB's URL characters (RFC 3986), and the shape of an absolute URL: scheme://host... ("ftp//broken" is
    made of the right characters only)."""
    _url_characters(value)
    if value and not _URL_SHAPE.match(value):
        raise ValidationError("Enter an absolute URL such as https://host.example.org:8443/path.")


_IPV6_PREFIX = re.compile(r"[0-9]{1,3}\Z")  # ASCII digits only: str.isdigit() takes "١٢" too


def ipv6_address(value):
    """GOCDB's IPv6Validator: an IPv6 address with an optional non-zero prefix length. Python's ipaddress
    also takes a zone id (fe80::1%eth0), which names an interface of one host and means nothing in a
    shared database: refused."""
    if not value:
        return
    address, slash, prefix = value.partition("/")
    if "%" in address:
        raise ValidationError("An IPv6 address may not carry a zone id (%...): enter the address alone, e.g. fe80::1.")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        raise ValidationError(
            f"{address[:60]!r} is not a valid IPv6 address; enter one such as 2001:db8::1, optionally with /prefix."
        ) from None
    if slash and not (_IPV6_PREFIX.match(prefix) and 0 < int(prefix) <= 128):
        raise ValidationError("The IPv6 prefix length must be a whole number from 1 to 128.")


# API credential DNs (specs/gocdb.md §4, GOCDB's code check): "/key=value" parts in slash form. A "/" inside
# a value (CN=host/name) counts only where it cannot start a part, so the pattern matches one way only and
# cannot backtrack exponentially; a space but no other white space.
_X509_DN = re.compile(r"^(/[A-Za-z]+=(?:[a-zA-Z0-9\-_ .,'@:]|/(?![A-Za-z]+=))+)+\Z")


def x509_dn(value):
    """An X.509 subject DN in the slash form GOCDB shows and compares (§10): /C=UK/O=eScience/CN=robot."""
    example = "e.g. /C=NL/O=Example/CN=robot.example.org"
    if len(value) > 255:
        raise ValidationError("A DN has at most 255 characters.")
    if "\\" in value:
        raise ValidationError(f"A DN may not contain a backslash: enter it in slash form, {example}.")
    if not value.startswith("/") and "=" in value:
        raise ValidationError(f"Enter the DN in slash form, starting with '/', {example} (not CN=...,O=...).")
    if not _X509_DN.match(value):
        raise ValidationError(
            f"Enter a DN in slash form, {example}: each part is /KEY=value, values use letters, digits, "
            "spaces and - _ . , ' @ : /."
        )
