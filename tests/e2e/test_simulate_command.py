"""`manage.py simulate` against a server that cannot run the day refuses at once and says what to set.

Given the settings of a plain `make run` (QUEUE_TIME_SCALE 1, allauth's rate limits on), the day used to run
for minutes and end with honest raters flagged by the `fast` rule (the server measured a 60 s judgment at
--speed 300 as 0.2 s) and a stalled work round; now nothing is created and the one-line error names the
command that works. No server is needed: the refusal comes before any call."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from simulation.management.commands.simulate import server_clock_problem

PLAIN_MAKE_RUN_LIMITS = {"login_failed": "10/m/ip,5/5m/key", "signup": "60/m/ip", "confirm_email": "1/10s/key"}
# A port nothing listens on: if the command got as far as the network, it would fail otherwise.
NOWHERE = "http://127.0.0.1:9"


@pytest.mark.django_db
def test_simulate_after_a_plain_make_run_refuses_at_once_naming_the_settings(settings):
    settings.QUEUE_TIME_SCALE = 1.0
    settings.ACCOUNT_RATE_LIMITS = PLAIN_MAKE_RUN_LIMITS
    users = get_user_model().objects.count()
    with pytest.raises(CommandError) as err:
        call_command("simulate", "--base-url", NOWHERE, "--no-progress")
    message = str(err.value)
    assert "\n" not in message
    assert "`ACCOUNT_RATE_LIMITS_OFF=1 QUEUE_TIME_SCALE=300 make run`" in message
    assert "ACCOUNT_RATE_LIMITS_OFF=1 QUEUE_TIME_SCALE=300 .venv/bin/python manage.py simulate" in message
    assert "QUEUE_TIME_SCALE=1," in message  # what the server has now
    assert get_user_model().objects.count() == users  # no staff login, client or worker made


@pytest.mark.parametrize(("scale", "limits", "speed", "refused"), [
    (300.0, False, 300.0, False),               # the documented command
    (15.0, False, 15.0, False),                 # the e2e test's clock
    (300.0, PLAIN_MAKE_RUN_LIMITS, 300.0, True),  # time scale right, sign-ups throttled
    (1.0, False, 300.0, True),                  # limits off, honest raters look too fast
    (300.0, False, 15.0, True),                 # --speed other than the server's clock
])
def test_the_check_wants_the_server_on_the_days_clock_with_limits_off(settings, scale, limits, speed, refused):
    settings.QUEUE_TIME_SCALE = scale
    settings.ACCOUNT_RATE_LIMITS = limits
    problem = server_clock_problem(speed)
    assert (problem is not None) == refused
    if refused:
        assert f"QUEUE_TIME_SCALE={speed:g}" in problem
