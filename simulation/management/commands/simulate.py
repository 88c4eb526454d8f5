"""`manage.py simulate`: a day in the marketplace through the real HTTP API (see docs/simulation.md)."""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from rich.console import Console

from simulation.config import SimulationConfig
from simulation.http import ApiError
from simulation.runner import Simulation, SimulationError


def server_clock_problem(speed: float) -> str | None:
    """Why the server this command shares settings with (var/local.env, the environment) cannot run the day.

    The server measures time spent itself, claim to submit, times QUEUE_TIME_SCALE: on a server at scale 1
    an honest judgment compressed by --speed 300 lasts a fraction of a second, so every honest rater trips the
    `fast` rule at its suspending level (median under 2 s), nobody is left to work the requeued judgments and
    round 2 stalls. allauth's per-IP limits (sign-up, failed logins, one address for the whole crowd) are
    the other server setting the day needs off. Both are named here before anything is created, instead of
    a failed day minutes later."""
    if settings.QUEUE_TIME_SCALE == speed and settings.ACCOUNT_RATE_LIMITS is False:
        return None
    env = f"ACCOUNT_RATE_LIMITS_OFF=1 QUEUE_TIME_SCALE={speed:g}"
    limits = "on" if settings.ACCOUNT_RATE_LIMITS is not False else "off"
    return (f"refusing to start: the server must measure time on the day's clock and let the sign-ups through "
            f"(--speed {speed:g}; here QUEUE_TIME_SCALE={settings.QUEUE_TIME_SCALE:g}, allauth rate limits "
            f"{limits}): start it with `{env} make run` and run `{env} .venv/bin/python manage.py simulate ...` "
            f"(this command reads the server's settings from var/local.env and the environment)")


class Command(BaseCommand):
    help = ("Simulate a client, freelancers (careful, average, spammers, always-A, too fast), ops and finance "
            "against a running marketplace, then report what the marketplace concluded against the planted truth.")

    def add_arguments(self, parser):
        d = SimulationConfig()
        # PUBLIC_BASE_URL is where `make run` serves (var/local.env follows its PORT): the stack is found
        # without flags.
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL or d.base_url,
                            help="the running marketplace (default PUBLIC_BASE_URL: %(default)s)")
        parser.add_argument("--workers", type=int, default=d.workers, help="simulated freelancers")
        parser.add_argument("--tasks", type=int, default=d.tasks, help="regular (non-gold) tasks")
        parser.add_argument("--dataset", choices=("bundled", "humaneval"), default=d.dataset,
                            help="the bundled code pairs (default), or HumanEval problems against sandbox-verified "
                                 "mutants (needs bwrap on this machine)")
        parser.add_argument("--problems", type=int, default=d.problems,
                            help="--dataset humaneval: the first N problems (default %(default)s)")
        parser.add_argument("--gold", type=int, default=None, help="gold tasks (default: a quarter of --tasks, at least 10)")
        parser.add_argument("--overlap", type=int, default=d.overlap, help="judgments per task")
        parser.add_argument("--spammer-share", type=float, default=d.spammer_share, help="share answering at random")
        parser.add_argument("--always-a-share", type=float, default=d.always_a_share, help="share always answering a")
        parser.add_argument("--fast-share", type=float, default=d.fast_share, help="share answering implausibly fast")
        parser.add_argument("--quiz-fail-share", type=float, default=d.quiz_fail_share,
                            help="share failing their first quiz attempt (they wait out the cooldown)")
        parser.add_argument("--quiz-cooldown", type=int, default=d.quiz_cooldown,
                            help="quiz cooldown in seconds during the run (restored afterwards)")
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--speed", type=float, default=d.speed,
                            help="simulated seconds per real second for the time spent judging")
        parser.add_argument("--gold-share", type=float, default=d.gold_share, help="share of claims served gold")
        parser.add_argument("--reward-cents", type=int, default=d.reward_cents)
        parser.add_argument("--skill", default=d.skill, help="skill the project requires (quiz of that skill)")
        parser.add_argument("--api-key", default=None, help="an existing client's key (default: a new client)")
        parser.add_argument("--mail-dir", default=None, help="where the server writes mail (default EMAIL_FILE_PATH)")
        parser.add_argument("--callback-host", default=d.callback_host,
                            help="host name under which the server's Celery workers reach this machine's webhook "
                                 "receiver (default %(default)s; another name makes it listen on all interfaces)")
        parser.add_argument("--staff-password", default=d.staff_password, help="password of the demo staff logins")
        parser.add_argument("--report-dir", default=None, help="write report.json and PNG charts here")
        parser.add_argument("--rounds", type=int, default=d.rounds, help="work/quality-review rounds at most")
        parser.add_argument("--work-timeout", type=float, default=d.work_timeout)
        parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs, CI)")

    def handle(self, *args, **o):
        problem = server_clock_problem(o["speed"])
        if problem:
            raise CommandError(problem)
        config = SimulationConfig(
            base_url=o["base_url"], workers=o["workers"], tasks=o["tasks"], gold=o["gold"], overlap=o["overlap"],
            dataset=o["dataset"], problems=o["problems"],
            spammer_share=o["spammer_share"], always_a_share=o["always_a_share"], fast_share=o["fast_share"],
            quiz_fail_share=o["quiz_fail_share"], quiz_cooldown=o["quiz_cooldown"], seed=o["seed"], speed=o["speed"],
            gold_share=o["gold_share"], reward_cents=o["reward_cents"], skill=o["skill"], api_key=o["api_key"],
            mail_dir=o["mail_dir"], callback_host=o["callback_host"],
            staff_password=o["staff_password"], report_dir=o["report_dir"], rounds=o["rounds"],
            work_timeout=o["work_timeout"], progress=not o["no_progress"],
        )
        # The filesystem broker's connection warns that it has no hostname on every in-process enqueue.
        logging.getLogger("kombu.connection").setLevel(logging.ERROR)
        console = Console(file=self.stdout._out, force_terminal=None)
        try:
            report = Simulation(config, console=console).run()
        except (ValueError, SimulationError, ApiError, TimeoutError) as exc:
            raise CommandError(str(exc)) from exc
        from simulation.report import render

        render(report, console)
        if config.report_dir:
            from simulation.charts import write_report_dir

            for path in write_report_dir(report, config.report_dir):
                console.print(f"wrote {path}")
        failed = [name for name, ok in report["checks"].items() if ok is False]
        if failed or report["errors"]:
            raise CommandError(f"invariants failed: {', '.join(failed) or 'none'}; "
                               f"phases failed: {', '.join(report['errors']) or 'none'}")
