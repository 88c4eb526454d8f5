from functools import lru_cache

from django.urls import reverse
from django.utils.translation import gettext_lazy as _

# The main menu: (URL name, label).
NAV = (("webapp:onboarding", _("Start")), ("webapp:work", _("Work")), ("webapp:quizzes", _("Quizzes")),
       ("webapp:earnings", _("Earnings")), ("webapp:standing", _("Standing")), ("webapp:profile", _("Profile")))


@lru_cache(maxsize=1)
def _nav() -> tuple:
    return tuple((reverse(name), label) for name, label in NAV)


def navigation(request):
    """The web app's menu, its URLs resolved once per process (every page renders it)."""
    return {"nav_pages": _nav()}
