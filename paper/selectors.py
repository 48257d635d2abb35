"""Reads of the paper channel: both channels' figures for the directors' reports."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.db.models import Count, Q
from django.utils import timezone

from initiatives.models import Vote
from paper.models import Batch, Line
from petitions.models import Signature


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def city_activity(date_from: date, date_to: date) -> dict[int, dict]:
    """Per city, in [date_from, date_to] (Kyiv days): signatures and budget ballots counted
    online and on paper (paper lines by the day their batch was confirmed, net of lines
    voided since). Three GROUP BY queries."""
    start, end = _day_start(date_from), _day_start(date_to + timedelta(days=1))
    result: dict[int, dict] = {}

    def add(rows, key: str) -> None:
        for city_id, n in rows:
            result.setdefault(city_id, {})[key] = n

    add(
        Signature.objects.filter(created_at__gte=start, created_at__lt=end)
        .values("petition__city_id")
        .annotate(n=Count("pk"))
        .values_list("petition__city_id", "n")
        .order_by(),
        "signatures_online",
    )
    add(
        # a ballot is counted by its first vote
        Vote.objects.filter(position=1, created_at__gte=start, created_at__lt=end)
        .values("programme__city_id")
        .annotate(n=Count("pk"))
        .values_list("programme__city_id", "n")
        .order_by(),
        "ballots_online",
    )
    paper = (
        Line.objects.filter(counted_at__gte=start, counted_at__lt=end, voided_at=None)
        .values("batch__city_id")
        .annotate(
            signatures=Count("pk", filter=Q(batch__kind=Batch.Kind.SIGNATURES)),
            ballots=Count("pk", filter=Q(batch__kind=Batch.Kind.BALLOTS)),
        )
        .order_by()
    )
    for row in paper:
        figures = result.setdefault(row["batch__city_id"], {})
        figures["signatures_paper"] = row["signatures"]
        figures["ballots_paper"] = row["ballots"]
    return result
