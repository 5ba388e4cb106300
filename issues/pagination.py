"""Pagination with a capped count, shared by the issue list page and the API (a neutral
module: neither imports the other)."""

from typing import cast

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property


class CappedPaginator(Paginator):
    """Counts at most COUNT_CAP rows: an exact COUNT(*) over 100,000 issues costs more than the
    page itself. Past the cap the list says "10,000+" and offers pages up to it."""

    COUNT_CAP = 10_000

    def __init__(self, *args, cap: int | None = None, count_from=None, rows_from=None, **kwargs):
        super().__init__(*args, **kwargs)
        if cap is not None:
            self.COUNT_CAP = cap
        # What to count when it is cheaper than the rows shown (the same rows up to the cap).
        self.count_from = count_from
        # What to read the page's rows from by id (their joins and annotations, without the
        # filters, which the ids already satisfy): see _get_page.
        self.rows_from = rows_from

    @cached_property
    def _limited_count(self) -> int:
        # No ORDER BY and no rank: only whether there are more than COUNT_CAP rows matters.
        counted = cast(QuerySet, self.object_list if self.count_from is None else self.count_from)
        return counted.order_by().values("pk")[: self.COUNT_CAP + 1].count()

    @cached_property
    def count(self) -> int:
        return min(self._limited_count, self.COUNT_CAP)

    @property
    def capped(self) -> bool:
        return self._limited_count > self.COUNT_CAP

    def _get_page(self, object_list, *args, **kwargs):
        # A late row lookup: the page's ids first (ORDER BY … LIMIT in a subquery, which an
        # index can answer without visiting the table), then only those rows with their
        # joins. Read directly, the LIMIT visits every row it skips: rows of projects the
        # user cannot see, or the rows of the pages before. Still one statement.
        # Not for ranked search results: their order comes from no index, and the bounded
        # candidates would be looked up twice.
        if (
            isinstance(object_list, QuerySet)
            and object_list.query.is_sliced
            and "rank" not in object_list.query.annotations
        ):
            ids = object_list.values("pk")
            if self.rows_from is not None:
                # The filters once, in the ids' subquery: repeated around it, a custom
                # field's semi-join doubled the statement's planning time (~1 ms).
                order = self.object_list.query.order_by
                rows = self.rows_from.filter(pk__in=ids)
                object_list = rows.order_by(*order) if order else rows
            else:
                object_list = self.object_list.filter(pk__in=ids)
        return super()._get_page(object_list, *args, **kwargs)
