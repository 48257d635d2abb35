"""Petition milestones (25/50/75/100 %): one event each, one delivery per follower, even when
many people sign and tally at once; the mail carries a one-click unsubscribe link."""

import pytest
from django.conf import settings
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import translation

from opencity.core.models import OutboundEmail
from opencity.notifications import services
from opencity.notifications.models import Delivery, Event, Follow, Pace
from petitions import services as petitions
from petitions.models import Petition
from tests.factories import make_user
from tests.petitions.factories import make_petition
from tests.petitions.test_signing import run_threads

Status = Petition.Status


def one_more_signature(committed, petition) -> None:
    """One more person signs and the count is taken, committed: a milestone fans out."""
    with committed():
        petitions.petition_sign(petition=petition, user=make_user())
        petitions.petition_tally(petition_id=petition.pk)


def milestone_mails(user):
    return OutboundEmail.objects.filter(to=user.email, key__startswith="notification:")


@pytest.mark.django_db(transaction=True)
def test_each_milestone_once_even_with_concurrent_signers(city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=8)
    follower = make_user()
    services.follow(follower, petition)
    signers = [make_user() for _ in range(8)]

    def sign_and_tally(i):
        petitions.petition_sign(petition=petition, user=signers[i])
        petitions.petition_tally(petition_id=petition.pk)

    assert run_threads(sign_and_tally, 8) == []
    petitions.petition_tally(petition_id=petition.pk)
    keys = sorted(Event.objects.filter(kind="petitions.milestone").values_list("key", flat=True))
    assert keys == [f"petition:{petition.pk}:milestone:{p}" for p in (100, 25, 50, 75)]
    assert Delivery.objects.filter(user=follower).count() == 4
    assert milestone_mails(follower).count() == 4
    # Every signer follows by signing, and heard of each milestone reached after they
    # followed at most once.
    for signer in signers:
        assert Follow.objects.filter(user=signer, object_id=petition.pk).count() == 1
        per_event = Delivery.objects.filter(user=signer).values_list("event_id", flat=True)
        assert len(per_event) == len(set(per_event)) <= 4


@pytest.mark.django_db
def test_milestone_mail_says_the_percent_and_carries_one_click_unsubscribe(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower = make_user(preferred_language="en")
    services.follow(follower, petition)
    one_more_signature(committed, petition)
    email = milestone_mails(follower).get()
    assert "25 %" in email.body_text and petition.title in email.body_text
    assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email.headers["List-Unsubscribe"].startswith("<http")
    sent = [m for m in mail.outbox if m.to == [follower.email]]
    assert sent and sent[0].extra_headers["List-Unsubscribe"] == email.headers["List-Unsubscribe"]


@pytest.mark.django_db
def test_milestone_not_mailed_to_who_chose_never(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower = make_user()
    services.follow(follower, petition)
    services.set_pace(follower, "petitions.milestone", Pace.NONE)
    one_more_signature(committed, petition)
    assert not milestone_mails(follower).exists()
    assert Delivery.objects.get(user=follower).status == Delivery.Status.SKIPPED


@pytest.mark.django_db
def test_milestone_delivery_twice_to_one_person_is_refused_by_the_database(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower = make_user()
    services.follow(follower, petition)
    event = services.emit("petitions.milestone", petition, key="k", data={"percent": 25})
    Delivery.objects.create(event=event, user=follower, pace="immediate", status="sent")
    with pytest.raises(IntegrityError), transaction.atomic():
        Delivery.objects.create(event=event, user=follower, pace="immediate", status="sent")


@pytest.mark.django_db
def test_milestone_fan_out_run_again_sends_nothing_new(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower = make_user()
    services.follow(follower, petition)
    one_more_signature(committed, petition)
    event = Event.objects.get(kind="petitions.milestone")
    assert services.fan_out(event.pk) == 0
    assert petitions.emit_milestones(petition_id=petition.pk, count=1, threshold=4) == 0
    assert milestone_mails(follower).count() == 1


@pytest.mark.django_db
def test_milestone_reaches_a_signer_who_turned_auto_follow_off_never(committed, city_a):
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=2)
    quiet = make_user()
    services.set_auto_follow(quiet, False)
    with committed():
        petitions.petition_sign(petition=petition, user=quiet)
        petitions.petition_tally(petition_id=petition.pk)
    assert not Follow.objects.filter(user=quiet).exists()
    assert not milestone_mails(quiet).exists()


@pytest.mark.django_db
def test_answer_and_closing_reach_followers(committed, city_a, responder_a):
    answered = make_petition(city_a, status=Status.REACHED)
    follower = make_user()
    services.follow(follower, answered)
    with committed():
        petitions.petition_respond(
            petition=answered, actor=responder_a, decision="supported", text="Так."
        )
    assert Event.objects.filter(kind="petitions.answered", object_id=answered.pk).exists()
    assert Delivery.objects.filter(user=follower, event__kind="petitions.answered").count() == 1


@pytest.mark.django_db(transaction=True)
def test_fan_out_goes_in_batches_and_each_follower_hears_once(city_a, monkeypatch):
    """A viral petition's followers are mailed a batch per task, so tallies are not stuck
    behind one long fan-out; every follower still hears exactly once, in their language."""
    monkeypatch.setattr(services, "FAN_OUT_BATCH", 3)
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=100)
    followers = [make_user(preferred_language="en") for _ in range(7)]
    for follower in followers:
        services.follow(follower, petition)
    gone = make_user()  # a follower whose account was deactivated
    services.follow(gone, petition)
    gone.is_active = False
    gone.save(update_fields=["is_active"])
    elsewhere = make_user()  # follows another petition
    services.follow(elsewhere, make_petition(city_a, status=Status.COLLECTING))
    batches = []
    real = services.fan_out

    def counting(event_id, after=0):
        batches.append(after)
        return real(event_id, after)

    monkeypatch.setattr(services, "fan_out", counting)
    data = {"percent": 25, "threshold": 100}
    event = services.emit("petitions.milestone", petition, key="viral", data=data)
    # Eager tasks: each batch queued the next on commit.
    assert len(batches) == 3 and batches[0] == 0 and batches[1] < batches[2]
    for follower in followers:
        assert milestone_mails(follower).count() == 1
        assert "25 %" in milestone_mails(follower).get().body_text
    assert not milestone_mails(gone).exists() and not milestone_mails(elsewhere).exists()
    event.refresh_from_db()
    assert event.fanned_out_at is not None
    assert real(event.pk) == 0  # a sweep after the fact sends nothing new
    assert Event.objects.get(pk=event.pk).fanned_out_at == event.fanned_out_at  # kept


@pytest.mark.django_db
def test_followers_mail_goes_to_the_bulk_queue_and_a_receipt_does_not(
    committed, city_a, monkeypatch
):
    """Thousands of milestone mails must not hold back mail someone waits for."""
    from opencity import queue
    from opencity.core.services import queue_email

    sent = []
    real = queue.send_now

    def recording(task, *args, **options):
        name = task if isinstance(task, str) else task.name
        sent.append((name, options.get("queue"), args))
        return real(task, *args, **options)

    monkeypatch.setattr(queue, "send_now", recording)
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    follower, signer = make_user(), make_user()
    services.follow(follower, petition)
    with committed():
        petitions.petition_sign(petition=petition, user=signer)
        petitions.petition_tally(petition_id=petition.pk)
        queue_email(key="receipt", to="r@example.org", template="generic_notice",
                    context={"title": "t", "body": "b"})  # fmt: skip
    # the receipt alone, on the default (mail) queue
    assert [q for name, q, _ in sent if name == "opencity.core.tasks.deliver_email"] == [None]
    # the follower and the signer (who follows by signing): one bulk task for the batch
    batches = [(q, ids) for name, q, ids in sent if name == "opencity.core.tasks.deliver_emails"]
    notices = OutboundEmail.objects.filter(key__startswith="notification:")
    assert batches == [("bulk", tuple(sorted(notices.values_list("pk", flat=True))))]
    assert sorted(notices.values_list("to", "status")) == sorted(
        [(signer.email, "sent"), (follower.email, "sent")]
    )
    from django.conf import settings

    routes = settings.CELERY_TASK_ROUTES
    assert routes["opencity.notifications.tasks.fan_out"] == {"queue": "bulk"}
    assert routes["opencity.core.tasks.deliver_email"] == {"queue": "mail"}
    assert routes["opencity.core.tasks.deliver_emails"] == {"queue": "bulk"}


@pytest.mark.django_db
def test_milestone_goes_to_who_followed_before_it_not_to_later_signers(committed, city_a):
    """A viral petition's fan-out runs in batches while people keep signing: someone who
    signed after the petition reached 25 % saw it as they signed and gets no mail about it."""
    from datetime import timedelta

    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    early = make_user()
    services.follow(early, petition)
    one_more_signature(committed, petition)
    event = Event.objects.get(kind="petitions.milestone")
    late = make_user()
    services.follow(late, petition)
    Follow.objects.filter(user=late).update(created_at=event.created_at + timedelta(seconds=1))
    Follow.objects.filter(user=early).update(created_at=event.created_at - timedelta(seconds=1))
    Event.objects.filter(pk=event.pk).update(fanned_out_at=None)
    services.fan_out(event.pk)  # a later batch, or the sweep starting the event again
    assert milestone_mails(early).count() == 1
    assert not milestone_mails(late).exists()
    assert not Delivery.objects.filter(user=late).exists()


@pytest.mark.django_db
def test_fan_out_counts_the_mails_it_sent_and_keeps_each_follower_s_pace_for_this_kind(city_a):
    from django.contrib.contenttypes.models import ContentType

    from opencity.cities.models import City

    petition = make_petition(city_a, status=Status.CLOSED)
    other = make_petition(city_a, status=Status.CLOSED)
    at_once = [make_user() for _ in range(3)]
    daily, never = make_user(), make_user()
    for person in [*at_once, daily, never]:
        services.follow(person, petition)
    services.set_pace(daily, "petitions.closed", Pace.DAILY)
    services.set_pace(never, "petitions.closed", Pace.NONE)
    services.set_pace(at_once[0], "petitions.milestone", Pace.NONE)  # another kind: no effect
    # Following something else that happens to have the same id is not following this.
    stranger = make_user()
    Follow.objects.create(
        user=stranger, content_type=ContentType.objects.get_for_model(City), object_id=petition.pk
    )
    event = services.emit("petitions.closed", petition, key="test:closed", data={"count": 3})
    pending = services.emit("petitions.closed", other, key="test:other", data={"count": 1})
    assert services.fan_out(event.pk) == 3  # the mails sent now
    deliveries = {d.user_id: d for d in Delivery.objects.filter(event=event)}
    assert {pk: d.status for pk, d in deliveries.items()} == {
        **{person.pk: Delivery.Status.SENT for person in at_once},
        daily.pk: Delivery.Status.WAITING,
        never.pk: Delivery.Status.SKIPPED,
    }
    assert all(deliveries[person.pk].sent_at is not None for person in at_once)
    assert deliveries[daily.pk].sent_at is None and deliveries[never.pk].sent_at is None
    assert not milestone_mails(stranger).exists()
    assert Event.objects.get(pk=event.pk).fanned_out_at is not None
    assert Event.objects.get(pk=pending.pk).fanned_out_at is None  # its own fan-out is to come


@pytest.mark.django_db
def test_fan_out_starts_from_the_first_account_and_ignores_an_event_since_deleted(city_a):
    from opencity.accounts.models import User

    petition = make_petition(city_a, status=Status.CLOSED)
    first = User.objects.filter(pk=1).first() or User.objects.create(
        pk=1, email="first@example.org", full_name="Перша Людина"
    )
    services.follow(first, petition)
    event = services.emit("petitions.closed", petition, key="test:first", data={"count": 1})
    assert services.fan_out(event.pk) == 1
    assert Delivery.objects.filter(event=event, user=first).exists()
    assert services.fan_out(event.pk + 1000) == 0  # no such event: nothing to send


@pytest.mark.django_db
def test_each_follower_gets_their_own_unsubscribe_link_in_their_own_language(committed, city_a):
    """A batch's notice is rendered once per language: each mail still carries the link that
    stops mail for its own reader, in the reader's language, and no one else's."""
    petition = make_petition(city_a, status=Status.COLLECTING, threshold=4)
    readers = [make_user(preferred_language=lang) for lang in ("uk", "en", "uk")]
    for reader in readers:
        services.follow(reader, petition)
    one_more_signature(committed, petition)
    links = {}
    for reader in readers:
        email = milestone_mails(reader).get()
        link = email.headers["List-Unsubscribe"].strip("<>")
        token = link.rstrip("/").rsplit("/", 1)[1]
        assert services.read_unsubscribe_token(token) == (reader, "petitions.milestone")
        assert link in email.body_text and f'href="{link}"' in email.body_html
        stop = "Stop these e-mails" if reader.preferred_language == "en" else "Більше не надсилати"
        assert stop in email.body_text and stop in email.body_html
        assert email.language == reader.preferred_language
        links[reader.pk] = (link, email)
    for pk, (link, _) in links.items():
        others = [email for other, (_, email) in links.items() if other != pk]
        assert all(link not in email.body_text + email.body_html for email in others)
    # the rest is the same notice: the reader's greeting and sentence, the petition, settings
    event = Event.objects.get(kind="petitions.milestone")
    petition_url = settings.SITE_URL + petition.get_absolute_url()
    settings_url = settings.SITE_URL + reverse("notifications:settings")
    for reader in readers:
        email = milestone_mails(reader).get()
        with translation.override(reader.preferred_language):
            greeting, sentence = str(translation.gettext("Good day!")), services._sentence(event)
        assert greeting in email.body_text and sentence in email.body_text
        assert petition_url in email.body_text and f'href="{petition_url}"' in email.body_html
        assert settings_url in email.body_text and f'href="{settings_url}"' in email.body_html
        assert (email.city_id, email.bulk) == (city_a.pk, True)
