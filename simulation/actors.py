"""The people of the simulation, each acting only through the HTTP API: freelancers and staff."""

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

import requests

from simulation import behaviours as bh
from simulation.http import Api, ApiError, Stats
from simulation.mailbox import verification_key

AUTH = "/_allauth/app/v1/auth"
COUNTRIES = [("DE", "Europe/Berlin"), ("IN", "Asia/Kolkata"), ("BR", "America/Sao_Paulo"), ("KE", "Africa/Nairobi"),
             ("PL", "Europe/Warsaw"), ("PH", "Asia/Manila"), ("US", "America/Chicago"), ("NG", "Africa/Lagos")]


class ActorBlocked(Exception):
    """The marketplace refuses this person a step they need (suspended, attempt cap reached, ...)."""


def login(api: Api, email: str, password: str) -> str:
    body = api.post(f"{AUTH}/login", {"email": email, "password": password}, label="login")
    api.token = body["meta"]["session_token"]
    return api.token


def _until(iso: str | None) -> float:
    """Seconds from now until an ISO timestamp (0 if absent or past)."""
    if not iso:
        return 0.0
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return max(0.0, at.timestamp() - time.time())


@dataclass
class Judged:
    task_id: int
    external_id: str | None
    choice: str
    correct: bool | None
    is_gold: bool
    seconds: float


@dataclass
class Freelancer:
    """A simulated freelancer with a planted behaviour; every step goes through the public API."""

    email: str
    password: str
    behaviour: bh.Behaviour
    fails_quiz_first: bool
    api: Api
    rng: random.Random
    user_id: int | None = None
    judged: list[Judged] = field(default_factory=list)
    quiz_attempts: int = 0
    stopped_reason: str = ""
    claim_blocked: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)

    # --- onboarding ---------------------------------------------------------------------------------
    def sign_up_and_verify(self, *, mail_dir: str | None) -> None:
        response = self.api.call("POST", f"{AUTH}/signup", json={"email": self.email, "password": self.password},
                                 label="signup", expect=(200, 401))
        token = response.json()["meta"]["session_token"]
        self.api.token = token
        if response.status_code == 401:  # pending email verification: read the mail, post the key
            key = verification_key(self.email, mail_dir=mail_dir)
            body = self.api.post(f"{AUTH}/email/verify", {"key": key}, label="verify_email")
            self.api.token = body["meta"].get("session_token") or token

    def complete_profile(self, *, skills: list[str], index: int) -> dict:
        me = self.api.get("/api/v1/me/", label="me")
        self.user_id = me["id"]
        country, tz = COUNTRIES[index % len(COUNTRIES)]
        return self.api.patch("/api/v1/me/", {
            "display_name": f"Sim {self.behaviour.value} {index:03d}", "country": country, "timezone": tz,
            "skills": skills, "accepted_terms_version": me["terms"]["current_version"],
        }, label="profile")

    def qualify(self, *, quiz_slug: str, answer_key: dict, max_wait: float) -> None:
        """Takes the quiz until passed. A worker planted to fail answers the first attempt wrongly and waits
        out the cooldown the server names (retry_after)."""
        deadline = time.monotonic() + max_wait
        while True:
            attempt = self.api.post(f"/api/v1/quizzes/{quiz_slug}/attempts/", label="quiz_start",
                                    expect=(201, 403, 409))
            error = attempt.get("error") if isinstance(attempt, dict) else None
            if error and error.get("code") == "attempt_open" and error.get("attempt"):
                # An attempt left open (say, by an interrupted run): finish that one.
                attempt = self.api.get(f"/api/v1/quiz-attempts/{error['attempt']}/", label="quiz_start")
            elif error:
                if error.get("code") in ("suspended", "banned", "attempt_cap_reached"):
                    raise ActorBlocked(f"{self.email}: may not take the quiz: {error.get('message')}")
                wait = _until(error.get("retry_after")) or 0.5
                if time.monotonic() + wait > deadline:
                    raise TimeoutError(f"{self.email}: quiz blocked: {error}")
                time.sleep(wait + 0.2)
                continue
            fail = self.fails_quiz_first and self.quiz_attempts == 0
            self.quiz_attempts += 1
            answers = bh.quiz_answers(attempt["questions"], answer_key, fail=fail, rng=self.rng)
            result = self.api.post(f"/api/v1/quiz-attempts/{attempt['id']}/submit/", {"answers": answers},
                                   label="quiz_submit")
            if result["passed"]:
                return
            wait = _until(result.get("retry_after"))
            if time.monotonic() + wait > deadline:
                raise TimeoutError(f"{self.email}: failed the quiz and the cooldown ({wait:.0f}s) exceeds max wait")
            time.sleep(wait + 0.2)

    def connect_stripe(self, *, timeout: float) -> dict:
        """Creates the payout account, follows the onboarding link on the (fake) Stripe server, and waits
        until the marketplace learned (account.updated webhook) that payouts are enabled."""
        account = self.api.post("/api/v1/payout-account/", {}, label="payout_account")
        url = (account or {}).get("onboarding_url")
        if url:
            requests.get(url, timeout=30, allow_redirects=True)
        deadline = time.monotonic() + timeout
        while True:
            account = self.api.get("/api/v1/payout-account/", label="payout_account_get")
            if account.get("payouts_enabled"):
                return account
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.email}: payouts not enabled after {timeout:.0f}s: {account}")
            time.sleep(0.3)

    # --- work ---------------------------------------------------------------------------------------
    def work(self, *, project_id: int, truth_of, speed: float, stop: threading.Event,
             on_judgment=None, idle_poll: float = 0.3) -> None:
        """Claims and submits until stop is set or the worker is suspended. truth_of(task_data) returns
        (truth, bug, is_gold, external_id) from the simulator's own records."""
        while not stop.is_set():
            try:
                response = self.api.call("POST", "/api/v1/assignments/claim/", json={"project": project_id},
                                         label="claim", expect=(201, 204, 403, 409, 429))
            except (requests.RequestException, ApiError):
                time.sleep(idle_poll)
                continue
            if response.status_code in (204, 409, 429):
                stop.wait(idle_poll)
                continue
            body = response.json()
            if response.status_code == 403:
                code = str((body.get("error") or {}).get("code", "forbidden"))
                self.claim_blocked[code] = self.claim_blocked.get(code, 0) + 1
                if code in ("suspended", "banned"):
                    self.stopped_reason = code
                    return
                stop.wait(idle_poll)
                continue
            try:
                self._judge(body, truth_of=truth_of, speed=speed, on_judgment=on_judgment)
            except (ApiError, OSError, KeyError, ValueError) as exc:  # one bad answer must not end the day
                self.errors.append(f"{type(exc).__name__}: {exc}"[:300])

    def _judge(self, assignment: dict, *, truth_of, speed: float, on_judgment) -> None:
        task = assignment["task"]
        truth, bug, is_gold, external_id = truth_of(task["data"])
        answer = bh.choose_answer(self.behaviour, truth=truth or "a", bug=bug or "", rng=self.rng)
        seconds = bh.seconds_spent(self.behaviour, self.rng)
        time.sleep(seconds / speed)
        response = self.api.call("POST", f"/api/v1/assignments/{assignment['id']}/submit/",
                                 json={"answer": answer, "seconds_spent": seconds}, label="submit",
                                 expect=(200, 201, 400, 409))
        if response.status_code in (200, 201):
            judged = Judged(task_id=task["id"], external_id=external_id, choice=answer["choice"],
                            correct=(answer["choice"] == truth) if truth else None, is_gold=is_gold, seconds=seconds)
            self.judged.append(judged)
            if on_judgment:
                on_judgment(self, judged)


@dataclass
class Staff:
    email: str
    api: Api


def staff_login(base_url: str, stats: Stats, email: str, password: str) -> Staff:
    api = Api(base_url, stats)
    login(api, email, password)
    return Staff(email=email, api=api)
