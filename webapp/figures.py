"""Figures that cannot mislead (issue 30 item 6): an hourly figure is shown only from enough timed work at
a pace a person can work at; otherwise the page says why there is none.

"Enough" is PAY_HOURLY_MIN_JUDGMENTS timed judgments (the selectors already give None below it). "A pace a
person can work at" is the quality rules' own floor for implausibly fast answers (quality.rules "fast":
median_seconds_below, with QUALITY_RULES on top): hourly pay extrapolated from answers faster than a task
can be read (5,818.53 USD an hour from bots) says nothing about what a person earns there."""

from django.conf import settings

from quality.rules import merge_rules


def fast_floor_seconds() -> float:
    """Seconds per judgment under which the quality rules call answers implausibly fast."""
    return float(merge_rules(getattr(settings, "QUALITY_RULES", None))["fast"]["median_seconds_below"])


def hourly_withheld(*, n_timed: int, seconds_per_judgment: float | None) -> dict | None:
    """Why an hourly figure from this timed work is not shown: {"why": "too_few", "n", "needed"} or
    {"why": "too_fast", "seconds", "floor"}; None when it may be shown."""
    needed = settings.PAY_HOURLY_MIN_JUDGMENTS
    if n_timed < needed or seconds_per_judgment is None:
        return {"why": "too_few", "n": n_timed, "needed": needed}
    floor = fast_floor_seconds()
    if seconds_per_judgment < floor:
        return {"why": "too_fast", "seconds": round(seconds_per_judgment, 1), "floor": floor}
    return None


def projects_with_figures(projects: list) -> list:
    """Sets hourly_withheld (see above) on each project, from the figures tasks.selectors.pay attached
    (n_timed, median_seconds): a project's figure is its median pace, so that is what is judged."""
    for project in projects:
        project.hourly_withheld = hourly_withheld(n_timed=getattr(project, "n_timed", 0) or 0,
                                                  seconds_per_judgment=getattr(project, "median_seconds", None))
    return projects
