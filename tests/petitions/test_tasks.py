"""Beat wiring, task wrappers and e-mails in the recipient's language."""

import pytest
from django.utils import timezone

from opencity import celery_app
from opencity.core.models import OutboundEmail
from petitions import services, tasks
from petitions.models import Petition
from petitions.schedule import BEAT_SCHEDULE
from tests.factories import make_user
from tests.petitions.factories import make_petition, sign_many

Status = Petition.Status


def test_every_beat_entry_names_a_registered_task():
    import petitions.tasks  # noqa: F401  registers the tasks

    for entry in BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks


@pytest.mark.django_db
def test_tally_task_and_beat_pass_recount(city_a):
    petition = make_petition(city_a, threshold=100)
    sign_many(petition, 3)
    assert tasks.tally_petition.delay(petition.pk).get() == 3
    sign_many(petition, 2)
    assert tasks.tally_stale.delay().get() == 1
    petition.refresh_from_db()
    assert petition.signature_count == 5


@pytest.mark.django_db
def test_resend_signer_notices_picks_up_answers_whose_fan_out_never_ran(city_a):
    petition = make_petition(
        city_a, status=Status.ANSWERED, answered_at=timezone.now() - timezone.timedelta(hours=1)
    )
    signer = sign_many(petition, 1)[0]
    assert tasks.resend_signer_notices.delay().get() == 1
    assert OutboundEmail.objects.filter(
        key=f"petition:{petition.pk}:answered-signer:u{signer.pk}"
    ).exists()
    assert tasks.resend_signer_notices.delay().get() == 0


@pytest.mark.django_db
def test_emails_are_written_in_the_recipients_language(city_a, moderator_a):
    english = make_user(preferred_language="en")
    ukrainian = make_user(preferred_language="uk")
    for author in (english, ukrainian):
        petition = make_petition(city_a, author=author, status=Status.SUBMITTED)
        services.petition_reject(petition=petition, actor=moderator_a, ground="obscene")
    subjects = dict(
        OutboundEmail.objects.filter(key__contains=":rejected:").values_list("to", "subject")
    )
    assert "is not published" in subjects[english.email]
    assert "не оприлюднено" in subjects[ukrainian.email]
    body = OutboundEmail.objects.get(to=english.email).body_text
    assert "obscene language" in body and petition.title not in body
