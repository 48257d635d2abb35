from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from opencity.core import services
from opencity.core.models import OutboundEmail
from opencity.queue import send_now


@shared_task(
    bind=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=1800,
    max_retries=services.MAX_ATTEMPTS,
)
def deliver_email(self, email_id: int) -> bool:
    return services.deliver_email(email_id)


@shared_task
def sweep_outbox() -> int:
    """Re-queue outbox e-mails that were never delivered (broker outage, worker death)."""
    ids = services.pending_email_ids()
    for email_id in ids:
        send_now(deliver_email, email_id)
    return len(ids)


@shared_task
def purge_sent_email(days: int = 90) -> int:
    """Sent e-mails hold addresses; keep them only as long as support needs them."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = OutboundEmail.objects.filter(
        status=OutboundEmail.Status.SENT, sent_at__lt=cutoff
    ).delete()
    return deleted
