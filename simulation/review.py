"""Quality rounds: have Celery score the project now, wait for it, and let ops review the flags.

The simulated ops reviewer looks at the evidence the way a person would, and in this world the evidence
is conclusive: flags on planted bad raters are confirmed, flags on honest raters are dismissed (and counted
as false flags in the report, since the rules should not have raised them).
"""

import time

from simulation import inprocess
from simulation.http import ApiError


def flag_worker_id(flag: dict) -> int | None:
    worker = flag.get("worker") if "worker" in flag else flag.get("worker_id")
    if isinstance(worker, dict):
        worker = worker.get("id")
    return int(worker) if isinstance(worker, int | str) and str(worker).isdigit() else None


class QualityReview:
    def __init__(self, sim):
        self.sim = sim
        self.flags: dict[int, dict] = {}  # flag id -> the flag as last seen, plus our decision
        self.agreement: dict | None = None
        self.rounds: list[dict] = []

    def _ours(self, flag: dict) -> bool:
        """A flag on one of this run's workers, about this run's project (or about no project)."""
        if flag_worker_id(flag) not in {f.user_id for f in self.sim.freelancers}:
            return False
        project = flag.get("project")
        project = project.get("id") if isinstance(project, dict) else project
        return project in (None, self.sim.project["id"])

    def _agreement(self) -> dict | None:
        sim = self.sim
        response = sim.client.call("GET", f"/api/v1/projects/{sim.project['id']}/agreement/", label="client_agreement",
                                   expect=(200, 404))
        return response.json() if response.status_code == 200 else None

    def _open_flags(self) -> list[dict]:
        return [f for f in self.sim.ops.api.pages("/api/v1/flags/", label="ops_flags", params={"status": "open"})
                if self._ours(f)]

    def wait_for_scoring(self) -> dict | None:
        """Until the round's run (amortised or a full refit) covers every judgment so far, then the
        agreement as the client sees it (its figures change only with a full refit)."""
        deadline = time.monotonic() + self.sim.config.quality_timeout
        while time.monotonic() < deadline:
            if inprocess.quality_caught_up(self.sim.project["id"]):  # a run with nothing new is a no-op
                break
            time.sleep(0.5)
        return self._agreement()

    def run_round(self, round_no: int) -> bool:
        """Scores, reviews open flags; True when confirmed flags put judgments back in the queue."""
        sim = self.sim
        job = inprocess.quality_recompute(sim.project["id"])
        self.agreement = self.wait_for_scoring()
        # Flag rules may run in a job after the recompute: wait until two polls agree.
        seen, stable_since = None, time.monotonic()
        while time.monotonic() - stable_since < 2.0:
            flags = self._open_flags()
            ids = sorted(f["id"] for f in flags)
            if ids != seen:
                seen, stable_since = ids, time.monotonic()
            time.sleep(0.5)
        decisions = {"confirm": 0, "dismiss": 0}
        by_id = {f.user_id: f for f in sim.freelancers}
        for flag in flags:
            worker = by_id.get(flag_worker_id(flag))
            decision = "dismiss" if worker is None or worker.behaviour.honest else "confirm"
            try:
                sim.ops.api.post(f"/api/v1/flags/{flag['id']}/resolve/",
                                 {"decision": decision, "note": f"simulation review ({'planted' if decision == 'confirm' else 'honest'} rater)"},
                                 label="ops_resolve")
                decisions[decision] += 1
            except ApiError as exc:
                flag["resolve_error"] = str(exc)
            self.flags[flag["id"]] = {**flag, "decision": decision, "round": round_no}
        state = sim.sample_queue()
        self.rounds.append({"round": round_no, "job": job, "agreement": self.agreement, "flags": len(flags),
                            **decisions, "tasks_complete": state["tasks_complete"], "tasks_total": state["tasks_total"]})
        reopened = state["tasks_complete"] < state["tasks_total"]
        return reopened and any(not f.stopped_reason for f in sim.freelancers)

    def all_flags(self) -> list[dict]:
        """Every flag on this run's workers (any status), merged with the decisions taken here."""
        try:
            rows = [f for f in self.sim.ops.api.pages("/api/v1/flags/", label="ops_flags") if self._ours(f)]
        except ApiError:
            rows = []
        merged = {f["id"]: f for f in rows}
        for fid, flag in self.flags.items():
            merged[fid] = {**merged.get(fid, {}), **flag}
        return list(merged.values())
