"""The JSON objects of the API, as TypedDicts (docs/tasks.md describes each field)."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class ClientInfo(TypedDict):
    id: int
    name: str
    callback_url: str
    webhook_secret: NotRequired[str]  # only in the answer that issued it


class Progress(TypedDict):
    tasks: int
    complete: int
    gold: int


class Project(TypedDict):
    id: int
    name: str
    task_type: str
    label_schema: dict[str, Any]
    instructions: str
    data_use_statement: str
    reward_cents: int
    currency: str
    overlap: int
    max_overlap: int | None
    confidence_threshold: float | None
    required_qualifications: list[str]
    pool: int | None
    lease_seconds: int
    gold_share: float
    priority: int
    max_judgments_per_worker: int | None
    status: str
    deadline: NotRequired[str | None]  # ISO 8601; the ops console marks the project late past it (issue 30)
    progress: Progress | None
    effective_hourly_cents: int | None  # cleared pay only (issue 20)
    low_pay: bool  # on effective_hourly_cents
    pending_hourly_cents: NotRequired[int | None]  # the part of the rate still pending (absent from older servers)
    rate_hourly_cents: NotRequired[int | None]  # reward / median seconds * 3600, cleared or not
    created_at: str
    updated_at: str
    completed_at: str | None


class SpanCategoryAgreement(TypedDict):
    f1: float | None  # pooled F1 (Dice) of the lines two raters put in the category
    jaccard: float | None
    pairs: int


class SpanAgreement(TypedDict):
    """Line-level agreement of a flags project's spans (docs/tasks.md "Flags with lines")."""

    alpha: float | None  # Krippendorff's alpha over per-line labels ("no flag" is a value)
    level: str
    n_tasks: int
    n_lines: int
    n_judgments: int
    f1: float | None
    jaccard: float | None
    pairs: int
    categories: dict[str, SpanCategoryAgreement]


class Agreement(TypedDict):
    alpha: float | None
    level: str
    fleiss_kappa: float | None
    n_tasks: int
    n_judgments: int
    spans: NotRequired[SpanAgreement | None]  # flags projects with spans; absent from older servers
    computed_at: str


class FlagSpan(TypedDict):
    """One line-anchored flag of a flags answer (a gold answer too): lines 1-based and inclusive."""

    start_line: int
    end_line: int
    category: str  # a slug of the project's taxonomy, not "none"
    comment: NotRequired[str]  # at most 500 characters


class FlagsAnswer(TypedDict):
    flags: list[str]
    spans: NotRequired[list[FlagSpan]]


class ConsensusSpan(TypedDict):
    """A span of a flags consensus: lines more than half the raters who pointed at lines put in `category`."""

    start_line: int
    end_line: int
    category: str
    support: float  # the smallest share of those raters behind any line of the span


class Judgment(TypedDict):
    worker: str  # a pseudonym, stable for your organization only
    answer: dict[str, Any]
    seconds: float | None


class Consensus(TypedDict):
    answer: dict[str, Any]
    confidence: float


class Result(TypedDict):
    external_id: str
    status: str
    is_gold: bool
    completed_at: str | None
    judgments: list[Judgment]
    consensus: Consensus | None


class PreferencePair(TypedDict):
    """A record of the standard style."""

    prompt: str
    chosen: str
    rejected: str
    confidence: float
    n_raters: int
    external_id: str
    language: str


class Message(TypedDict):
    role: str  # "user" for the prompt, "assistant" for chosen and rejected
    content: str


class ConversationalPreferencePair(TypedDict):
    """A record of `style="conversational"`: the prompt and both answers as chat messages."""

    prompt: list[Message]
    chosen: list[Message]
    rejected: list[Message]
    confidence: float
    n_raters: int
    external_id: str
    language: str


class PreferenceCounts(TypedDict):
    """What an export holds, from its X-Export-* headers."""

    pairs: int
    tasks_exported: int
    ties: int
    unresolved: int
    filtered_out: int
    open_tasks: int


class PreferenceFilters(TypedDict):
    min_confidence: float
    min_raters: int


class PreferenceSummary(PreferenceCounts):
    """The summary endpoint: the counts, plus complete tasks, the mean confidence and the filters applied."""

    complete_tasks: int
    mean_confidence: float | None
    filters: PreferenceFilters
