"""The phases of a simulated day: setup, quiz, project, onboarding, work rounds with quality review,
payouts, the client's pull. Each phase acts through the HTTP API; see inprocess.py for the exceptions."""

import math
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import nullcontext
from datetime import UTC, datetime

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulation import behaviours as bh
from simulation import dataset, inprocess
from simulation.actors import ActorBlocked, Freelancer, Staff, staff_login
from simulation.config import SimulationConfig
from simulation.http import Api, ApiError, Stats
from simulation.receiver import WebhookReceiver
from simulation.review import QualityReview


class SimulationError(Exception):
    """A phase could not complete; the message says which and why."""


class Simulation:
    def __init__(self, config: SimulationConfig, console: Console | None = None):
        config.validate()
        self.config = config
        self.console = console or Console()
        self.run_id = config.run_id or f"{datetime.now(UTC):%m%d%H%M%S}{uuid.uuid4().hex[:4]}"
        self.rng = random.Random(config.seed)
        self.stats = Stats()
        self.receiver: WebhookReceiver | None = None
        self.client: Api | None = None
        self.ops: Staff | None = None
        self.finance: list[Staff] = []
        self.freelancers: list[Freelancer] = []
        self.failed_onboarding: list[dict] = []
        self.project: dict = {}
        self.quiz_slug = ""
        self._quiz_restore: dict | None = None
        self.regular, self.gold = [], []
        self.pairs: tuple = ()
        self._truth: dict[tuple, tuple] = {}
        self.timeline: list[dict] = []
        self.phases: dict[str, float] = {}
        self.review = QualityReview(self)
        self.payout: dict = {}
        self.client_view: dict = {}
        self.errors: dict[str, str] = {}
        self._nudged: tuple | None = None
        self._t0 = time.monotonic()

    # --- helpers ------------------------------------------------------------------------------------
    def log(self, message: str) -> None:
        if self.config.progress:
            self.console.log(message)

    def _phase(self, name: str, fn, *args):
        started = time.monotonic()
        self.log(f"[bold]{name}[/bold]")
        try:
            return fn(*args)
        finally:
            self.phases[name] = round(time.monotonic() - started, 2)

    def progress(self):
        if not self.config.progress:
            return nullcontext(None)
        return Progress(TextColumn("{task.description:<28}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=self.console, transient=False)

    def truth_of(self, data: dict) -> tuple:
        return self._truth.get(dataset.data_key(data), (None, None, False, None))

    # --- the day ------------------------------------------------------------------------------------
    def run(self) -> dict:
        from simulation.report import build_report

        try:
            self._phase("dataset", self.load_dataset)
            self._phase("setup", self.setup)
            self._phase("quiz", self.prepare_quiz)
            self._phase("project", self.create_project)
            self._phase("onboarding", self.onboard)
            for round_no in range(1, self.config.rounds + 1):
                finished = self._phase(f"work round {round_no}", self.work, round_no)
                try:
                    reopened = self._phase(f"quality round {round_no}", self.review.run_round, round_no)
                except (ApiError, OSError, KeyError) as exc:
                    self.errors[f"quality round {round_no}"] = f"{type(exc).__name__}: {exc}"
                    break
                if not (finished and reopened):
                    break
            # The end of the day is reported even when one of these fails: the report names the failure.
            for name, step in (("payouts", self.payouts), ("client pull", self.client_pull)):
                try:
                    self._phase(name, step)
                except (ApiError, TimeoutError, OSError, KeyError) as exc:
                    self.errors[name] = f"{type(exc).__name__}: {exc}"
            return build_report(self)
        finally:
            self.cleanup()

    def load_dataset(self) -> None:
        """The items of the day, before anything is created on the server (humaneval runs the sandbox here)."""
        from sandbox.runner import SandboxUnavailable

        cfg = self.config
        try:
            self.pairs = dataset.pairs_for(dataset=cfg.dataset, problems=cfg.problems, seed=cfg.seed)
        except SandboxUnavailable as exc:
            raise SimulationError(f"--dataset {cfg.dataset}: {exc}") from exc
        self.log(f"dataset {cfg.dataset}: {len(self.pairs)} items")

    def setup(self) -> None:
        cfg = self.config
        try:  # before anything is created: is there a marketplace at base_url, with its database and broker?
            health = Api(cfg.base_url, self.stats).call("GET", "/healthz", label="healthz", expect=(200,))
        except ApiError as exc:
            raise SimulationError(f"{cfg.base_url}/healthz answered {exc.status}: {exc.body}") from exc
        except OSError as exc:
            raise SimulationError(f"cannot reach {cfg.base_url} ({type(exc).__name__}); is the server running?") from exc
        self.log(f"marketplace at {cfg.base_url}: {health.json()}")
        inprocess.ensure_staff()
        inprocess.ensure_skill(cfg.skill)
        loopback = cfg.callback_host in ("127.0.0.1", "localhost", "::1")
        # Another host name means the deliveries come from other machines (containers): listen on all interfaces.
        bind = "127.0.0.1" if loopback else "0.0.0.0"  # noqa: S104 - deliberate, see above
        self.receiver = WebhookReceiver(bind, advertised_host=cfg.callback_host).start()
        key = cfg.api_key or inprocess.client_create(name=f"Simulation {self.run_id}")
        self.client = Api(cfg.base_url, self.stats, api_key=key)
        # The client registers its webhook endpoint; the signing secret comes back once (or from a rotation).
        # A server that refuses loopback callbacks (WEBHOOKS_ALLOW_PRIVATE_URLS=0) only costs us the webhooks.
        try:
            body = self.client.patch("/api/v1/client/", {"callback_url": self.receiver.url}, label="client_callback")
            self.receiver.secret = body.get("webhook_secret") or self.client.post(
                "/api/v1/client/webhook-secret/", {}, label="client_callback")["webhook_secret"]
        except ApiError as exc:
            self.errors["webhooks"] = (f"callback {self.receiver.url} refused ({exc.status}); set "
                                       f"WEBHOOKS_ALLOW_PRIVATE_URLS=1 on the server to receive webhooks")
        self.ops = staff_login(cfg.base_url, self.stats, cfg.ops_email, cfg.staff_password)
        self.finance = [staff_login(cfg.base_url, self.stats, e, cfg.staff_password) for e in cfg.finance_emails]

    def prepare_quiz(self) -> None:
        """Uses the skill's quiz (ops author one from the dataset if there is none), shortens its cooldown
        for the run, and reads its answer key as ops: simulated workers recognise right answers by content."""
        cfg, ops = self.config, self.ops.api
        slug = inprocess.quiz_slug_for(cfg.skill)
        settings_for_run = {"cooldown_seconds": cfg.quiz_cooldown, "max_failed_attempts": None, "is_published": True}
        if slug is None:
            slug = f"{cfg.skill}-code-review"
            ops.post("/api/v1/quizzes/", {"slug": slug, "skill": cfg.skill, "title": f"{cfg.skill.title()} code review",
                                          "description": "Pick the correct snippet.", "pass_mark": 0.8,
                                          "questions_per_attempt": 5, "time_limit_seconds": 900,
                                          "validity_days": 365, **settings_for_run}, label="ops_quiz")
            for question in dataset.quiz_questions(count=12, seed=cfg.seed):
                ops.post(f"/api/v1/quizzes/{slug}/questions/", question, label="ops_quiz")
        else:
            current = ops.get(f"/api/v1/quizzes/{slug}/", label="ops_quiz")
            self._quiz_restore = {k: current[k] for k in settings_for_run if k in current}
            ops.patch(f"/api/v1/quizzes/{slug}/", settings_for_run, label="ops_quiz")
        self.quiz_slug = slug
        self.answer_key: dict[str, list[str]] = {}
        for q in ops.pages(f"/api/v1/quizzes/{slug}/questions/", label="ops_quiz"):
            right = [bh.fingerprint(o) for o in q["options"] if o["key"] in q["correct"]]
            self.answer_key[str(q["id"])] = right
            self.answer_key[bh.question_fingerprint(q)] = right

    def create_project(self) -> None:
        cfg = self.config
        self.regular, self.gold = dataset.build_tasks(n_tasks=cfg.tasks, n_gold=cfg.n_gold, seed=cfg.seed,
                                                      prefix=f"sim{self.run_id}", pairs=self.pairs)
        for t in self.regular + self.gold:
            self._truth[dataset.data_key(t.data)] = (t.truth, t.bug, t.is_gold, t.external_id)
        self.project = self.client.post("/api/v1/projects/", {
            "name": f"Code comparison {self.run_id}", "task_type": "pairwise",
            "label_schema": {"allow_tie": False, "require_reason": False},
            "instructions": "Read the prompt and both completions. Pick the one that is correct; say why.",
            "data_use_statement": "Your judgments train and evaluate code models; they are sold as preference data.",
            "reward_cents": cfg.reward_cents, "currency": cfg.currency, "overlap": cfg.overlap,
            "required_qualifications": [cfg.skill], "lease_seconds": cfg.lease_seconds,
            "gold_share": cfg.gold_share, "priority": 0,
            # Twice a fair share: the honest majority can finish the project after bad raters are suspended.
            "max_judgments_per_worker": max(10, math.ceil(2 * cfg.tasks * cfg.overlap / cfg.workers)),
        }, label="client_project")
        rows = [t.upload_row() for t in self.regular + self.gold]
        self.upload = {"created": 0, "duplicates": 0}
        for start in range(0, len(rows), 500):
            body = self.client.post(f"/api/v1/projects/{self.project['id']}/tasks/", rows[start:start + 500],
                                    label="client_ingest")
            for k in self.upload:
                self.upload[k] += int(body.get(k, 0))

    def onboard(self) -> None:
        cfg = self.config
        kinds = bh.assign_behaviours(n_workers=cfg.workers, spammer_share=cfg.spammer_share,
                                     always_a_share=cfg.always_a_share, fast_share=cfg.fast_share, rng=self.rng)
        n_fail = round(cfg.quiz_fail_share * cfg.workers)
        fails = set(self.rng.sample(range(cfg.workers), n_fail))
        people = [Freelancer(email=f"sim-{self.run_id}-{i:03d}@example.com", password=cfg.password, behaviour=kind,
                             fails_quiz_first=i in fails, api=Api(cfg.base_url, self.stats),
                             rng=random.Random(cfg.seed * 1000 + i)) for i, kind in enumerate(kinds)]

        def one(i: int, f: Freelancer) -> Freelancer:
            f.sign_up_and_verify(mail_dir=cfg.mail_dir)
            f.complete_profile(skills=[cfg.skill], index=i)
            f.qualify(quiz_slug=self.quiz_slug, answer_key=self.answer_key, max_wait=max(60.0, cfg.quiz_cooldown * 5))
            f.connect_stripe(timeout=cfg.stripe_timeout)
            return f

        with self.progress() as bar, ThreadPoolExecutor(max_workers=min(cfg.concurrency, cfg.workers)) as pool:
            task = bar.add_task("onboarding freelancers", total=len(people)) if bar else None
            futures = {pool.submit(one, i, f): f for i, f in enumerate(people)}
            for future in as_completed(futures):
                f = futures[future]
                try:
                    self.freelancers.append(future.result())
                except (ApiError, ActorBlocked, TimeoutError, OSError) as exc:
                    self.failed_onboarding.append({"email": f.email, "behaviour": f.behaviour.value, "error": str(exc)})
                if bar:
                    bar.advance(task)
        self.freelancers.sort(key=lambda f: f.email)
        if len(self.freelancers) < cfg.overlap:
            raise SimulationError(f"only {len(self.freelancers)} freelancers onboarded (overlap {cfg.overlap}); "
                                  f"first failure: {self.failed_onboarding[:1]}")

    def sample_queue(self) -> dict:
        state = inprocess.queue_state(self.project["id"])
        self.timeline.append({"t": round(time.monotonic() - self._t0, 2), **state})
        return state

    def work(self, round_no: int) -> bool:
        """Every freelancer works in their own thread until all regular tasks are complete. Meanwhile the
        project is scored every quality_every seconds, as beat would on a compressed clock, so bad raters
        can be caught while there is still work. False (and an entry in errors) when the round times out
        or stalls: open tasks but no new judgment for stall_seconds."""
        cfg = self.config
        stop = threading.Event()
        active = [f for f in self.freelancers if not f.stopped_reason]
        threads = [threading.Thread(target=f.work, name=f"worker-{i}", daemon=True,
                                    kwargs={"project_id": self.project["id"], "truth_of": self.truth_of,
                                            "speed": cfg.speed, "stop": stop}) for i, f in enumerate(active)]
        started = time.monotonic()
        deadline = started + cfg.work_timeout
        next_scoring = started + cfg.quality_every
        finished = False
        with self.progress() as bar:
            state = self.sample_queue()
            task = bar.add_task(f"round {round_no}: tasks complete", total=state["tasks_total"]) if bar else None
            last_judgments, last_progress = state["judgments"], started
            for t in threads:
                t.start()
            try:
                while True:
                    now = time.monotonic()
                    state = self.sample_queue()
                    if bar:
                        bar.update(task, completed=state["tasks_complete"])
                    if state["tasks_complete"] >= state["tasks_total"]:
                        finished = True
                        break
                    if state["judgments"] != last_judgments:
                        last_judgments, last_progress = state["judgments"], now
                    if now > deadline or now - last_progress > cfg.stall_seconds:
                        why = "timed out" if now > deadline else f"stalled (no judgment for {cfg.stall_seconds:.0f} s)"
                        self.errors[f"work round {round_no}"] = (
                            f"{why}: {state['tasks_total'] - state['tasks_complete']} tasks open, "
                            f"{state['open_slots']} open slots, {sum(t.is_alive() for t in threads)} workers still trying")
                        break
                    if cfg.quality_every and now >= next_scoring and self._scoring_caught_up(now):
                        inprocess.quality_recompute(self.project["id"])
                        self._nudged = (now, inprocess.quality_run_mark(self.project["id"]))
                        next_scoring = now + cfg.quality_every
                    time.sleep(0.5)
            finally:
                stop.set()
                for t in threads:
                    t.join(timeout=60)
        self.sample_queue()
        return finished

    def _scoring_caught_up(self, now: float) -> bool:
        """Only one nudge in flight: a slow broker (the embedded filesystem one) must not pile up jobs."""
        if self._nudged is None:
            return True
        at, mark = self._nudged
        return inprocess.quality_run_mark(self.project["id"]) != mark or now - at > 30

    def payouts(self) -> None:
        from simulation.money import run_payout

        self.payout = run_payout(self)

    def client_pull(self) -> None:
        from simulation.money import pull_client_view

        self.client_view = pull_client_view(self)

    def cleanup(self) -> None:
        if self._quiz_restore and self.ops:
            try:
                self.ops.api.patch(f"/api/v1/quizzes/{self.quiz_slug}/", self._quiz_restore, label="ops_quiz")
            except Exception as exc:  # noqa: BLE001 - best effort; the report is more important
                self.console.print(f"[yellow]could not restore quiz settings: {exc}[/yellow]")
        if self.receiver:
            self.receiver.stop()
