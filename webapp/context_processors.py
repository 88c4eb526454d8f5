from django.utils.translation import gettext_lazy as _

# The main menu: (URL name, label). Resolved in the template ({% url %}), so a page renders only what it reads.
NAV = (("webapp:onboarding", _("Start")), ("webapp:work", _("Work")), ("webapp:quizzes", _("Quizzes")),
       ("webapp:earnings", _("Earnings")), ("webapp:standing", _("Standing")), ("webapp:profile", _("Profile")))


def navigation(request):
    return {"nav_pages": NAV}
