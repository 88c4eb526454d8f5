"""The simulation's knobs (the command's options map onto these fields one to one)."""

from dataclasses import dataclass, field


@dataclass
class SimulationConfig:
    base_url: str = "http://127.0.0.1:8000"
    workers: int = 20
    tasks: int = 100
    dataset: str = "bundled"  # simulation.dataset.DATASETS: the bundled items, or HumanEval's problems
    problems: int = 20  # --dataset humaneval: the first N problems
    overlap: int = 3
    gold: int | None = None  # default: a quarter of the tasks, at least 10
    spammer_share: float = 0.15
    always_a_share: float = 0.08
    fast_share: float = 0.08
    quiz_fail_share: float = 0.25  # share of workers who fail their first quiz attempt on purpose
    quiz_cooldown: int = 2  # seconds; applied to the quiz for the run and restored afterwards
    seed: int = 7
    speed: float = 300.0  # simulated seconds per real second
    gold_share: float = 0.3  # share of claims served a gold task (while the worker has unseen gold left)
    reward_cents: int = 40
    currency: str = "usd"
    skill: str = "python"
    lease_seconds: int = 300
    report_dir: str | None = None
    api_key: str | None = None
    mail_dir: str | None = None
    callback_host: str = "127.0.0.1"  # host name the marketplace's Celery workers use to reach the receiver
    password: str = "sim-password-2026!"
    staff_password: str = "demo-password-123"
    ops_email: str = "ops@example.com"
    finance_emails: tuple[str, str] = ("finance@example.com", "finance2@example.com")
    payout_minimum_cents: int = 1
    concurrency: int = 8  # onboarding threads
    rounds: int = 3  # work -> quality -> review rounds at most
    stripe_timeout: float = 60.0
    work_timeout: float = 600.0
    stall_seconds: float = 30.0  # a work round with open tasks but no new judgment for this long has stalled
    quality_every: float = 5.0  # seconds between quality recomputes during work (0: only between rounds)
    quality_timeout: float = 180.0
    payout_timeout: float = 300.0
    webhook_wait: float = 10.0
    progress: bool = True
    run_id: str = field(default="")

    @property
    def n_gold(self) -> int:
        return self.gold if self.gold is not None else max(10, self.tasks // 4)

    def validate(self) -> None:
        if self.workers < self.overlap:
            raise ValueError(f"--workers ({self.workers}) must be at least --overlap ({self.overlap})")
        from simulation.dataset import DATASETS

        if self.dataset not in DATASETS:
            raise ValueError(f"--dataset must be one of {', '.join(DATASETS)}")
        if self.problems < 1:
            raise ValueError("--problems must be at least 1")
        if self.tasks < 1 or self.workers < 1 or self.speed <= 0:
            raise ValueError("--tasks and --workers must be positive and --speed above 0")
        for name in ("spammer_share", "always_a_share", "fast_share", "quiz_fail_share", "gold_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"--{name.replace('_', '-')} must be between 0 and 1")
        if self.spammer_share + self.always_a_share + self.fast_share > 1:
            raise ValueError("the shares of bad workers add up to more than 1")
