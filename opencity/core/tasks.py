from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from opencity.core import services
from opencity.core.mail import mail_server_failing
from opencity.core.models import OutboundEmail


@shared_task
def deliver_email(email_id: int) -> bool:
    """Send one outbox e-mail. Failures are retried by the outbox itself (backoff for 24
    hours, re-queued by `sweep_outbox`), not by Celery countdowns: a countdown longer than
    the broker's visibility timeout would be delivered twice.

    Then other due e-mails go out on the same connection (`drain_outbox`), also when the
    row was sent already (by another task's drain), unless the mail server just failed."""
    sent = services.deliver_email(email_id)
    if sent or not mail_server_failing():
        services.drain_outbox()
    return sent


@shared_task
def deliver_emails(*email_ids: int) -> int:
    """Send these outbox e-mails in turn (a batch of followers' notices: one task, not one
    each); those left when the mail server fails wait for the sweep."""
    return services.deliver_emails(email_ids)


@shared_task
def sweep_outbox() -> int:
    """Re-queue outbox e-mails that were never delivered (broker outage, worker death)."""
    ids = services.pending_email_ids()
    services.queue_deliveries(ids)
    return len(ids)


@shared_task
def purge_rate_limit_counts() -> int:
    """Windows counted in the database during a cache outage, once they have ended."""
    from opencity.ratelimit import purge_expired_counts

    return purge_expired_counts()


@shared_task
def purge_sent_email(days: int = 90) -> int:
    """Sent e-mails hold addresses; keep them only as long as support needs them."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENT, sent_at__lt=cutoff
    ).delete()
    return deleted
