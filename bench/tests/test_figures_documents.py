"""The list figures: what they count and what they time."""

from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_the_library_figures_count_its_queries_and_time_it_beside_the_bare_sql() -> None:
    from bench.figures_documents import library_page

    queries, timing = library_page(size=3, runs=2, rounds=1)
    assert queries.name == "library_queries"
    assert queries.unit == "queries"
    # The session, its user, the count, the rows and continue listening, at any size.
    assert queries.value == queries.baseline == 5
    assert timing.name == "library_ms_p50"
    assert timing.unit == "ms"
    assert timing.baseline is not None
    assert timing.value > timing.baseline > 0
    assert "3 documents" in timing.note
