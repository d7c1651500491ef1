"""XML (`Accept: application/xml` or `?format=xml`) and CSV (`?format=csv`, lists) renderings of API
replies, next to JSON."""

import csv
import io
import json
import re

from lxml import etree
from rest_framework.renderers import BaseRenderer

from egiportal.pixml import XML_ILLEGAL
from egiportal.views import csv_safe

TAG = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


class XMLRenderer(BaseRenderer):
    """JSON's shape as XML: objects become elements named by their keys, list items `<item>`, null an
    empty element with `null="true"`. Keys that are not XML names (property keys may be anything)
    become `<item key="...">`."""

    media_type = "application/xml"
    format = "xml"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:  # no body (204), as the JSON renderer
            return b""
        root = etree.Element("response")
        self.build(root, data)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)

    def build(self, parent, data):
        if isinstance(data, dict):
            for key, value in data.items():
                key = str(key)
                child = (
                    etree.SubElement(parent, key)
                    if TAG.fullmatch(key) and not key.lower().startswith("xml")
                    else etree.SubElement(parent, "item", key=clean(key))
                )
                self.build(child, value)
        elif isinstance(data, (list, tuple)):
            for value in data:
                self.build(etree.SubElement(parent, "item"), value)
        elif data is None:
            parent.set("null", "true")
        elif isinstance(data, bool):
            parent.text = "true" if data else "false"
        else:
            parent.text = clean(str(data))


def clean(text):
    """Text XML can carry: characters it cannot hold at all become U+FFFD."""
    return XML_ILLEGAL.sub("\ufffd", text)


class CSVRenderer(BaseRenderer):
    """A list as CSV: one row per object, nested values as JSON, formula-like cells neutralised."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:  # no body (204): iterating None was a 500 on DELETE ...?format=csv
            return b""
        rows = data.get("results") if isinstance(data, dict) and "results" in data else data
        if isinstance(rows, dict):
            rows = [rows]
        out = io.StringIO()
        writer = csv.writer(out)
        columns = list(rows[0]) if rows else []
        writer.writerow(columns)
        for row in rows:
            writer.writerow([cell(row.get(column)) for column in columns])
        return out.getvalue().encode()


def cell(value):
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return csv_safe(str(value))
