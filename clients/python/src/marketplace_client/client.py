"""The client of a task source: projects, task uploads, results and exports, webhook settings."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, cast

import requests

from marketplace_client._http import RetryPolicy, Transport
from marketplace_client.errors import BadRequest, LineError, TransportError, UploadRejected
from marketplace_client.types import (
    Agreement,
    ClientInfo,
    ConversationalPreferencePair,
    PreferenceCounts,
    PreferencePair,
    PreferenceSummary,
    Project,
    Result,
)

if TYPE_CHECKING:  # pragma: no cover
    import datasets

API = "/api/v1"
JSONL = "application/x-ndjson"
Destination = str | os.PathLike[str] | IO[bytes]
Style = Literal["standard", "conversational"]
# The preference export's counts, sent as headers before the body.
EXPORT_HEADERS = {"X-Export-Pairs": "pairs", "X-Export-Tasks": "tasks_exported", "X-Export-Ties": "ties",
                  "X-Export-Unresolved": "unresolved", "X-Export-Filtered-Out": "filtered_out",
                  "X-Export-Open-Tasks": "open_tasks"}


def _aware_iso(value: datetime, field: str) -> str:
    """A datetime as ISO 8601 with its offset; a naive one is refused here (the server would read it in its
    own timezone, which is rarely what was meant)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field}: give an aware datetime (with a timezone), e.g. datetime.now(timezone.utc)")
    return value.isoformat()


@dataclass(frozen=True)
class UploadProgress:
    """Handed to an upload's `progress` callback after each stored chunk (and returned at the end)."""

    rows: int
    created: int
    duplicates: int
    chunks: int


UploadReport = UploadProgress


Preference = PreferencePair | ConversationalPreferencePair


class PreferenceStream(Iterator[Preference]):
    """The preference records of one export, read line by line. `counts` (pairs, tasks_exported, ties,
    unresolved, filtered_out, open_tasks) come from the answer's headers, known before the first record.
    Close it (or use `with`) when not reading to the end."""

    def __init__(self, response: requests.Response, path: str):
        self._response = response
        self.counts = _export_counts(response)
        self._lines = _json_lines(response, path)

    def __iter__(self) -> PreferenceStream:
        return self

    def __next__(self) -> Preference:
        return cast(Preference, next(self._lines))

    def close(self) -> None:
        self._response.close()

    def __enter__(self) -> PreferenceStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MarketplaceClient:
    """A task source's view of the marketplace API (`Authorization: Api-Key <key>`).

    >>> mp = MarketplaceClient("http://127.0.0.1:8000", api_key="AbCdEfGh.xxxx")
    >>> project = mp.create_project(name="JS completions", task_type="pairwise", ...)
    >>> mp.upload_tasks(project["id"], rows)            # any iterable of dicts, sent as JSONL in chunks
    >>> for result in mp.iter_results(project["id"]):  # streamed, constant memory
    ...     ...

    Every call raises a MarketplaceError subclass on a 4xx/5xx (code, message, fields); 429 and 503 are
    retried with backoff, honouring Retry-After (see RetryPolicy)."""

    def __init__(self, base_url: str, api_key: str, *, timeout: float | tuple[float, float] = (10.0, 300.0),
                 retry: RetryPolicy | None = None, session: requests.Session | None = None,
                 sleep: Callable[[float], None] | None = None):
        kwargs: dict[str, Any] = {"timeout": timeout, "retry": retry, "session": session}
        if sleep is not None:
            kwargs["sleep"] = sleep
        self._http = Transport(base_url, api_key, **kwargs)

    def close(self) -> None:
        self._http.session.close()

    def __enter__(self) -> MarketplaceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- keys and clients --------------------------------------------------------------------------

    def whoami(self) -> ClientInfo:
        """The organization this key belongs to: {id, name, callback_url}."""
        return cast(ClientInfo, self._http.json("GET", f"{API}/client/"))

    def set_callback_url(self, url: str) -> ClientInfo:
        """Where webhook events are POSTed ("" stops them). The first registration issues the signing secret,
        present as `webhook_secret` in this answer only."""
        # Not repeated after a lost answer: the repeat would find the URL set and carry no secret.
        return cast(ClientInfo, self._http.json("PATCH", f"{API}/client/", json={"callback_url": url}))

    def rotate_webhook_secret(self) -> str:
        """Issue a new webhook signing secret and return it (shown once; the old one stops signing)."""
        return cast(str, self._http.json("POST", f"{API}/client/webhook-secret/")["webhook_secret"])

    def iter_webhook_deliveries(self) -> Iterator[dict[str, Any]]:
        """What was sent to your callback URL, newest first (status, attempts, last error)."""
        return self._pages(f"{API}/client/webhook-deliveries/")

    # --- projects ----------------------------------------------------------------------------------

    def create_project(self, *, name: str, task_type: str, instructions: str, data_use_statement: str,
                       reward_cents: int, **fields: Any) -> Project:
        """Create a project; `fields` are the optional ones (label_schema, currency, overlap, max_overlap,
        confidence_threshold, required_qualifications, pool, lease_seconds, gold_share, priority,
        max_judgments_per_worker, status="draft"|"active", deadline: an aware datetime or ISO 8601 string in
        the future), see docs/tasks.md. Sent with an Idempotency-Key, so a retry after a lost answer does not
        create a second one on a server that honours it."""
        if isinstance(fields.get("deadline"), datetime):
            fields["deadline"] = _aware_iso(fields["deadline"], "deadline")
        body = {"name": name, "task_type": task_type, "instructions": instructions,
                "data_use_statement": data_use_statement, "reward_cents": reward_cents, **fields}
        return cast(Project, self._http.json("POST", f"{API}/projects/", json=body, idempotency_key=True))

    def get_project(self, project_id: int) -> Project:
        return cast(Project, self._http.json("GET", f"{API}/projects/{int(project_id)}/"))

    def iter_projects(self) -> Iterator[Project]:
        return cast(Iterator[Project], self._pages(f"{API}/projects/"))

    def set_project_deadline(self, project_id: int, deadline: datetime | str | None) -> Project:
        """Set the project's deadline (an aware datetime or ISO 8601 string, in the future) or clear it (None).
        The ops console marks the project late when its pace would finish after it. Setting the same value
        twice is harmless."""
        value = _aware_iso(deadline, "deadline") if isinstance(deadline, datetime) else deadline
        return cast(Project, self._http.json("PATCH", f"{API}/projects/{int(project_id)}/",
                                             json={"deadline": value}, idempotent=True))

    def pause_project(self, project_id: int) -> Project:
        """Workers get no more of its tasks (claimed ones may still be submitted). Pausing twice is harmless."""
        return cast(Project, self._http.json("POST", f"{API}/projects/{int(project_id)}/pause/", idempotent=True))

    def resume_project(self, project_id: int) -> Project:
        return cast(Project, self._http.json("POST", f"{API}/projects/{int(project_id)}/resume/", idempotent=True))

    def get_agreement(self, project_id: int) -> Agreement:
        """{alpha, level, fleiss_kappa, n_tasks, n_judgments, computed_at}; NotFound with code
        `agreement_not_computed` until quality computed it."""
        return cast(Agreement, self._http.json("GET", f"{API}/projects/{int(project_id)}/agreement/"))

    # --- task uploads ------------------------------------------------------------------------------

    def upload_tasks(self, project_id: int, rows: Iterable[Mapping[str, Any]], *, chunk_size: int = 1000,
                     max_chunk_bytes: int = 8 << 20,
                     progress: Callable[[UploadProgress], None] | None = None) -> UploadReport:
        """Upload tasks from any iterable of rows {external_id, data, gold?, priority?}, streamed as JSONL in
        chunks of at most `chunk_size` rows and about `max_chunk_bytes` (only one chunk is in memory).

        Each chunk is all or nothing on the server, and idempotent by external_id (required on every
        row): a chunk retried after a timeout, or a whole upload run again, stores nothing twice and counts
        the known rows as duplicates. Invalid rows raise UploadRejected listing every reported line
        (numbered from 1 over the whole upload); that chunk stored nothing and the upload stops there,
        while earlier chunks stay stored (fix the rows and upload everything again)."""
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        path = f"{API}/projects/{int(project_id)}/tasks/"
        done = UploadProgress(rows=0, created=0, duplicates=0, chunks=0)
        for first_line, count, body in _jsonl_chunks(rows, chunk_size, max_chunk_bytes):
            try:
                answer = self._http.json("POST", path, data=body, headers={"Content-Type": JSONL},
                                         idempotent=True)
            except BadRequest as exc:
                if exc.code == "invalid_lines":
                    raise _upload_rejected(exc, first_line, count, done) from None
                raise
            done = UploadProgress(rows=done.rows + count, created=done.created + int(answer["created"]),
                                  duplicates=done.duplicates + int(answer["duplicates"]), chunks=done.chunks + 1)
            if progress is not None:
                progress(done)
        if done.chunks == 0:
            raise ValueError("no rows to upload")
        return done

    # --- results and exports -----------------------------------------------------------------------

    def iter_results(self, project_id: int, *, status: Literal["open", "complete"] | None = None,
                     gold: bool | None = None) -> Iterator[Result]:
        """Every task's result (judgments with pseudonymous workers, consensus or None), one at a time from
        the JSONL stream: memory stays constant however large the project."""
        params = _result_filters(status, gold)
        params["format"] = "jsonl"
        return cast(Iterator[Result], self._jsonl(f"{API}/projects/{int(project_id)}/results/", params))

    def iter_preferences(self, project_id: int, *, style: Style = "standard", min_confidence: float | None = None,
                         min_raters: int | None = None) -> PreferenceStream:
        """The preference records of a pairwise or ranking project, streamed: standard
        {prompt, chosen, rejected, confidence, n_raters, external_id, language, chosen_execution,
        rejected_execution} (strings; the two last the sandbox run's status of each response, "" without tests), or with
        `style="conversational"` prompt, chosen and rejected as [{role, content}] messages. Only tasks whose
        consensus has at least `min_confidence` and `min_raters` approved judgments. The stream's `counts`
        are known at once."""
        path, params = _preference_export(project_id, style, min_confidence, min_raters)
        return PreferenceStream(self._http.request("GET", path, params=params, stream=True), path)

    def preferences_summary(self, project_id: int, *, min_confidence: float | None = None,
                            min_raters: int | None = None) -> PreferenceSummary:
        """What the preference export holds with these filters, without downloading it: pairs, tasks
        exported, ties, unresolved, filtered out, complete and open tasks, mean confidence."""
        return cast(PreferenceSummary, self._http.json(
            "GET", f"{API}/projects/{int(project_id)}/export/preferences/summary/",
            params=_preference_filters(min_confidence, min_raters)))

    def export_preferences(self, project_id: int, dest: Destination, *, style: Style = "standard",
                           min_confidence: float | None = None, min_raters: int | None = None) -> PreferenceCounts:
        """Write the preference records as JSONL (records only: `datasets.load_dataset("json", ...)` and TRL
        read it as is) to a path or a binary file, streamed; return the export's counts."""
        path, params = _preference_export(project_id, style, min_confidence, min_raters)
        with self._http.request("GET", path, params=params, stream=True) as response, _Sink(dest) as out:
            _copy(response, out, path)
        return _export_counts(response)

    def export_results_csv(self, project_id: int, dest: Destination, *,
                           status: Literal["open", "complete"] | None = None, gold: bool | None = None) -> int:
        """Write the results CSV (one row per task) to a path or a binary file, streamed; return the bytes
        written. A path is written to a temporary file first and renamed, so a broken download leaves no
        half file."""
        path = f"{API}/projects/{int(project_id)}/export/results.csv"
        with self._http.request("GET", path, params=_result_filters(status, gold), stream=True) as response, \
                _Sink(dest) as out:
            return _copy(response, out, path)

    def preferences_dataset(self, project_id: int, *, style: Style = "standard", min_confidence: float | None = None,
                            min_raters: int | None = None, cache_dir: str | None = None) -> datasets.Dataset:
        """The preference records as a `datasets.Dataset` (needs `pip install marketplace-client[datasets]`),
        built from the stream (written to Arrow on disk as it comes, not held in a list)."""
        ds = _datasets()
        if style == "conversational":
            messages = ds.List({"role": ds.Value("string"), "content": ds.Value("string")})
            text: dict[str, Any] = {"prompt": messages, "chosen": messages, "rejected": messages}
        else:
            text = {"prompt": ds.Value("string"), "chosen": ds.Value("string"), "rejected": ds.Value("string")}
        features = ds.Features({**text, "confidence": ds.Value("float64"), "n_raters": ds.Value("int64"),
                                "external_id": ds.Value("string"), "language": ds.Value("string"),
                                "chosen_execution": ds.Value("string"), "rejected_execution": ds.Value("string")})
        return _dataset(ds, lambda: self.iter_preferences(project_id, style=style, min_confidence=min_confidence,
                                                          min_raters=min_raters), features, cache_dir)

    def results_dataset(self, project_id: int, *, status: Literal["open", "complete"] | None = None,
                        gold: bool | None = None, cache_dir: str | None = None) -> datasets.Dataset:
        """Results as a `datasets.Dataset`, one row per task with the columns of `iter_results`. Answers
        differ in shape between task types (and optional keys within one), so each judgment's `answer` and
        the `consensus` are `datasets.Json()` columns; `completed_at` is ISO 8601 text."""
        ds = _datasets()
        features = ds.Features({
            "external_id": ds.Value("string"), "status": ds.Value("string"), "is_gold": ds.Value("bool"),
            "gold_source": ds.Value("string"), "completed_at": ds.Value("string"),
            "judgments": ds.List({"worker": ds.Value("string"), "answer": ds.Json(), "seconds": ds.Value("float64")}),
            "consensus": ds.Json(), "execution": ds.Json(),
        })
        return _dataset(ds, lambda: self.iter_results(project_id, status=status, gold=gold), features, cache_dir)

    # --- plumbing ----------------------------------------------------------------------------------

    def _jsonl(self, path: str, params: dict[str, str]) -> Iterator[dict[str, Any]]:
        with self._http.request("GET", path, params=params, stream=True) as response:
            yield from _json_lines(response, path)

    def _pages(self, path: str) -> Iterator[dict[str, Any]]:
        url: str | None = path
        while url:
            page = self._http.json("GET", url)
            yield from page["results"]
            url = page.get("next")


def _json_lines(response: requests.Response, path: str) -> Iterator[Any]:
    try:
        with response:
            for line in response.iter_lines():
                if line:
                    yield json.loads(line)
    except requests.RequestException as exc:
        raise TransportError(f"GET {path}: the stream broke: {exc}") from exc


def _copy(response: requests.Response, out: IO[bytes], path: str) -> int:
    written = 0
    try:
        for block in response.iter_content(chunk_size=1 << 16):
            out.write(block)
            written += len(block)
    except requests.RequestException as exc:
        raise TransportError(f"GET {path}: the stream broke after {written} bytes: {exc}") from exc
    return written


def _preference_export(project_id: int, style: str, min_confidence: float | None,
                       min_raters: int | None) -> tuple[str, dict[str, str]]:
    params = _preference_filters(min_confidence, min_raters)
    if style != "standard":
        params["style"] = style
    return f"{API}/projects/{int(project_id)}/export/preferences.jsonl", params


def _export_counts(response: requests.Response) -> PreferenceCounts:
    return cast(PreferenceCounts, {key: int(response.headers[header]) for header, key in EXPORT_HEADERS.items()
                                   if (response.headers.get(header) or "").isdigit()})


def _preference_filters(min_confidence: float | None, min_raters: int | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if min_confidence is not None:
        params["min_confidence"] = repr(float(min_confidence))
    if min_raters is not None:
        params["min_raters"] = str(int(min_raters))
    return params


def _result_filters(status: str | None, gold: bool | None) -> dict[str, str]:
    params: dict[str, str] = {}
    if status is not None:
        params["status"] = status
    if gold is not None:
        params["gold"] = "true" if gold else "false"
    return params


def _jsonl_chunks(rows: Iterable[Mapping[str, Any]], chunk_size: int,
                  max_bytes: int) -> Iterator[tuple[int, int, bytes]]:
    """(first line number, rows, JSONL body) per chunk; line numbers count from 1 over all rows."""
    parts: list[bytes] = []
    size = 0
    first = 1
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            raise TypeError(f"row {number} is a {type(row).__name__}, not a mapping")
        line = (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        parts.append(line)
        size += len(line)
        if len(parts) >= chunk_size or size >= max_bytes:
            yield first, len(parts), b"".join(parts)
            first, parts, size = number + 1, [], 0
    if parts:
        yield first, len(parts), b"".join(parts)


def _upload_rejected(exc: BadRequest, first_line: int, count: int, done: UploadProgress) -> UploadRejected:
    offset = first_line - 1
    lines = []
    for entry in exc.body.get("lines") or []:
        number = entry.get("line") or 0
        external_id = entry.get("external_id")
        lines.append(LineError(line=number + offset if number else first_line,
                               errors={str(k): list(v) if isinstance(v, list) else [str(v)]
                                       for k, v in (entry.get("errors") or {}).items()},
                               external_id=None if external_id is None else str(external_id)))
    invalid = int(exc.body.get("invalid_lines") or len(lines))
    message = (f"{invalid} invalid row(s) among rows {first_line}-{first_line + count - 1}; that chunk stored "
               f"nothing and the upload stopped. {done.rows} earlier row(s) were stored ({done.created} new, "
               f"{done.duplicates} duplicates): fix the rows and upload again (stored rows count as duplicates).")
    return UploadRejected(message, lines=lines, invalid_lines=invalid, truncated=bool(exc.body.get("truncated")),
                          stored_rows=done.rows, created=done.created, duplicates=done.duplicates,
                          status=exc.status, code=exc.code, fields=exc.fields, body=exc.body, response=exc.response)


class _Sink:
    """A binary destination: an open file is written as is; a path gets a temporary file renamed into place
    on success (removed on failure)."""

    def __init__(self, dest: Destination):
        self._dest = dest
        self._tmp: str | None = None
        self._file: IO[bytes] | None = None
        self._target: Path | None = None

    def __enter__(self) -> IO[bytes]:
        if not isinstance(self._dest, (str, os.PathLike)):
            return self._dest
        target = self._target = Path(self._dest)
        # Beside the target (same filesystem, so the rename is atomic), created with the usual permissions.
        self._tmp = str(target.with_name(f".{target.name}.{uuid.uuid4().hex[:12]}.part"))
        self._file = open(self._tmp, "xb")  # closed in __exit__
        return self._file

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if self._file is None or self._tmp is None or self._target is None:
            return
        self._file.close()
        if exc_type is None:
            os.replace(self._tmp, self._target)
        else:
            os.unlink(self._tmp)


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError("the `datasets` package is needed: pip install 'marketplace-client[datasets]'") from exc
    return datasets


def _dataset(ds: Any, rows: Callable[[], Iterator[Any]], features: Any, cache_dir: str | None) -> Any:
    # A fresh fingerprint: the datasets cache keys on the generator's code, and would otherwise hand back
    # an earlier download of the same project instead of its current results.
    return ds.Dataset.from_generator(_Gen(rows), features=features, cache_dir=cache_dir,
                                     fingerprint=uuid.uuid4().hex)


class _Gen:
    """A picklable-enough callable for Dataset.from_generator (it hashes the generator for its cache key)."""

    def __init__(self, rows: Callable[[], Iterator[Any]]):
        self._rows = rows

    def __call__(self) -> Iterator[Any]:
        yield from self._rows()
