"""The admin's JSON form fields apply the API's input limits (marketplace.json_limits).

Django's forms.JSONField decodes with json.loads and catches only syntax errors: a value nested a few
thousand deep raised RecursionError (500), and NUL or a lone surrogate reached the database (PostgreSQL
refuses both: 500). Installed for every admin by marketplace.admin (FORMFIELD_FOR_DBFIELD_DEFAULTS), so a
staff user's typo or paste is a form error naming the path.
"""

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from marketplace import json_limits


class LimitedJSONField(forms.JSONField):
    def to_python(self, value):
        if self.disabled or not isinstance(value, str) or not value.strip():
            return super().to_python(value)
        depth = int(getattr(settings, "API_JSON_MAX_DEPTH", json_limits.DEFAULT_MAX_DEPTH))
        try:
            json_limits.loads(value, max_depth=depth)
        except json_limits.HostileJSON as exc:
            where = f"{exc.path}: " if exc.path else ""
            raise ValidationError(f"{where}{exc.message}", code="invalid") from None
        return super().to_python(value)
