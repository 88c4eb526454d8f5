"""Forms of the web app. They only shape the input: the services check it (the same checks as the API),
and a service's field errors are put back on the form (form_add_service_errors)."""

import zoneinfo
from functools import lru_cache

import pycountry
from django import forms
from django.utils.translation import gettext_lazy as _

from marketplace.errors import ValidationFailed


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    return [("", _("Choose a country"))] + sorted(((c.alpha_2, c.name) for c in pycountry.countries),
                                                  key=lambda pair: pair[1])


@lru_cache(maxsize=1)
def timezone_choices() -> list[tuple[str, str]]:
    names = sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC")
    return [("", _("Choose a timezone"))] + [(name, name) for name in names]


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("Display name"), max_length=80)
    country = forms.ChoiceField(label=_("Country"), choices=country_choices)
    timezone = forms.ChoiceField(label=_("Timezone"), choices=timezone_choices,
                                 help_text=_("Times on these pages are shown in it."))
    skills = forms.MultipleChoiceField(label=_("Skills"), widget=forms.CheckboxSelectMultiple, required=True)
    notify_new_work = forms.BooleanField(label=_("Mail me when there is work I can claim"), required=False)
    accept_terms = forms.BooleanField(label=_("I have read and accept the terms and the data-use statement above"),
                                      required=False)

    def __init__(self, *args, skills: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["skills"].choices = skills


def form_add_service_errors(form: forms.Form, exc: ValidationFailed, renames: dict | None = None) -> None:
    """A service's 400 on the form: each field it names gets its messages, anything else the whole form."""
    renames = renames or {}
    placed = False
    for field, messages in (exc.fields or {}).items():
        name = renames.get(field, field)
        if name in form.fields:
            for message in messages:
                form.add_error(name, message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)
