from celery import shared_task

from opencity.ledger import services


@shared_task(ignore_result=True)
def sequence() -> int:
    """Append pending acts to the log (one transaction; a second concurrent run does nothing)."""
    return services.sequence()
