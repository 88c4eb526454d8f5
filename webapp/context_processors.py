from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

_NAV = (("webapp:onboarding", _("Start")), ("webapp:work", _("Work")), ("webapp:quizzes", _("Quizzes")),
        ("webapp:earnings", _("Earnings")), ("webapp:standing", _("Standing")), ("webapp:profile", _("Profile")))


def navigation(request):
    """The main menu of the web app's pages (only on them: a lazy list, built when a template reads it)."""

    def pages():
        out = []
        for name, label in _NAV:
            try:
                out.append((reverse(name), label))
            except NoReverseMatch:
                continue
        return out

    from django.utils.functional import SimpleLazyObject

    return {"nav_pages": SimpleLazyObject(pages)}
