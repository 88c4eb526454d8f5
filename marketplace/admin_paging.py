"""Admin changelists over tables of millions of rows: no full COUNT(*) on any page.

Django's changelist counts its queryset on every page (the paginator's `count`) and, unless
show_full_result_count is off, counts the whole table a second time. On 10M judgments each COUNT(*) is a
sequential scan of seconds. Here the count reads at most COUNT_CAP + 1 rows (a LIMITed subquery): below
the cap it is exact; at the cap the page shows PostgreSQL's estimate instead (pg_class.reltuples for the
unfiltered table, the planner's row estimate for a filtered or searched list), never less than the cap.
Every row stays reachable: a page is always the rows at its offset (never cut at an estimated count),
and any page number is accepted once the count is an estimate (a page past the end is empty).

The default ordering is the primary key, newest first, so a page is an index scan that stops after
list_per_page rows; facets (per-filter counts) are never computed; no date_hierarchy (its year links are
a DISTINCT over the whole table).
"""

from __future__ import annotations

import json

from django.contrib import admin
from django.core.paginator import EmptyPage, PageNotAnInteger, Paginator
from django.db import connections
from django.utils.functional import cached_property

COUNT_CAP = 10_000


def _estimate(queryset) -> int | None:
    """PostgreSQL's row estimate for the queryset, or None elsewhere (or when the planner has none)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        if not queryset.query.where:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [queryset.model._meta.db_table])
            row = cursor.fetchone()
            return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None
        sql, params = queryset.order_by().select_related(None).values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])


class EstimatedCountPaginator(Paginator):
    """A paginator whose count costs at most COUNT_CAP rows: exact below it, an estimate above it."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        bounded = queryset.order_by().select_related(None)[: self.cap + 1].count()
        if bounded <= self.cap:
            return bounded
        self.estimated = True
        return max(self.cap + 1, _estimate(queryset) or 0)

    estimated = False

    def validate_number(self, number):
        if not (self.count and self.estimated):
            return super().validate_number(number)
        # The estimate may be short of the real end: any page from 1 on may hold rows.
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise PageNotAnInteger("That page number is not an integer") from None
        if number < 1:
            raise EmptyPage("That page number is less than 1")
        return number

    def page(self, number):
        """Django's page, without cutting the last page at `count` (an estimate may be short of the rows)."""
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        return self._get_page(self.object_list[bottom:bottom + self.per_page], number, self)


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist whose page cost does not grow with the table (see the module docstring)."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-pk",)
    date_hierarchy = None
