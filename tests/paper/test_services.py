"""Entering paper signatures: duplicates across channels, four eyes, corrections, counts."""

import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase
from django.utils import timezone

from opencity.core import Refused
from opencity.core.models import AuditEntry
from opencity.identity.keys import DocumentType
from opencity.identity.models import CountedAct
from opencity.identity.services import person_key_confirm
from opencity.ledger import services as ledger
from opencity.ledger.models import Entry
from paper import services
from paper.models import Batch, Line
from petitions.models import Petition
from petitions.services import petition_sign, petition_tally
from tests.factories import make_user
from tests.paper.factories import enter, open_batch, rnokpp

pytestmark = pytest.mark.django_db


def confirm(*, clerk, batch):
    """Confirm and run what is queued for after the commit (the recount; tasks are eager)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.batch_confirm(clerk=clerk, batch=batch)


def identified(number: str, **fields):
    user = make_user(**fields)
    person_key_confirm(user=user, kind=DocumentType.RNOKPP, number=number, source="clerk")
    return user


def test_a_duplicate_on_paper_is_refused_on_its_line(clerk_a, petition):
    batch = open_batch(clerk_a, petition=petition)
    number = rnokpp()
    enter(clerk_a, batch, number)
    with pytest.raises(Refused) as refused:
        enter(clerk_a, batch, number, name="Інше Ім'я")
    assert refused.value.code == "counted" and refused.value.field == "id_number"
    assert "on paper" in str(refused.value) or "на папері" in str(refused.value)
    assert Line.objects.filter(batch=batch).count() == 1


def test_a_person_who_signed_online_is_refused_on_paper_with_the_channel_and_day(clerk_a, petition):
    number = rnokpp()
    person = identified(number)
    petition_sign(petition=petition, user=person)
    batch = open_batch(clerk_a, petition=petition)
    with pytest.raises(Refused) as refused:
        enter(clerk_a, batch, number)
    message = str(refused.value)
    assert refused.value.code == "counted"
    assert ("online" in message or "онлайн" in message) and person.full_name not in message


def test_a_person_counted_on_paper_cannot_sign_online(clerk_a, clerk_a2, petition):
    number = rnokpp()
    batch = open_batch(clerk_a, petition=petition)
    enter(clerk_a, batch, number)
    confirm(clerk=clerk_a2, batch=batch)
    person = identified(number)
    with pytest.raises(Refused) as refused:
        petition_sign(petition=petition, user=person)
    assert refused.value.code == "counted"
    # the person is told the channel and the day, nothing about who entered it
    assert "on paper, on" in str(refused.value) or "на папері" in str(refused.value)
    assert str(timezone.localdate().day) in str(refused.value)
    assert petition.signatures.count() == 0


def test_an_account_that_signed_before_it_had_a_key_claims_its_signature(clerk_a, petition):
    number = rnokpp()
    person = make_user()
    petition_sign(petition=petition, user=person)
    person_key_confirm(user=person, kind=DocumentType.RNOKPP, number=number, source="clerk")
    batch = open_batch(clerk_a, petition=petition)
    with pytest.raises(Refused):
        enter(clerk_a, batch, number)


def test_the_database_refuses_a_second_act_of_one_person():
    CountedAct.objects.create(
        scope="petition",
        subject_id=1,
        key="a" * 64,
        channel="paper",
        line_id=1,
        created_at="2026-03-12T10:00Z",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        CountedAct.objects.create(
            scope="petition",
            subject_id=1,
            key="a" * 64,
            channel="online",
            user_id=7,
            created_at="2026-03-12T10:00Z",
        )


def test_a_batch_counts_only_after_a_second_clerk_confirms_it(clerk_a, clerk_a2, petition):
    batch = open_batch(clerk_a, petition=petition)
    enter(clerk_a, batch)
    enter(clerk_a, batch)
    petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 0

    with pytest.raises(Refused) as same:
        confirm(clerk=clerk_a, batch=batch)
    assert same.value.code == "four_eyes"
    # a clerk who entered a line is not a second pair of eyes either
    enter(clerk_a2, batch)
    with pytest.raises(Refused):
        confirm(clerk=clerk_a2, batch=batch)

    third = make_user()
    from opencity.cities.services import staff_role_assign

    staff_role_assign(user=third, city=petition.city, role="service_clerk")
    confirm(clerk=third, batch=batch)
    batch.refresh_from_db()
    assert batch.status == Batch.Status.CONFIRMED and batch.decided_by == third
    petition.refresh_from_db()
    assert (petition.signature_count, petition.paper_signature_count) == (3, 3)
    with pytest.raises(Refused):
        confirm(clerk=third, batch=batch)  # exactly once
    with pytest.raises(Refused):
        enter(clerk_a, batch)  # closed
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"paper.batch.opened", "paper.line.entered", "paper.batch.confirmed"} <= actions


def test_the_database_refuses_a_confirmation_by_the_clerk_who_entered_it(clerk_a, petition):
    batch = open_batch(clerk_a, petition=petition)
    with pytest.raises(IntegrityError), transaction.atomic():
        Batch.objects.filter(pk=batch.pk).update(
            status="confirmed", decided_by=clerk_a, decided_at="2026-03-12T10:00Z"
        )


def test_a_clerk_of_another_city_may_not_enter_or_confirm(clerk_a, clerk_b, petition):
    batch = open_batch(clerk_a, petition=petition)
    with pytest.raises(Refused):
        enter(clerk_b, batch)
    with pytest.raises(Refused):
        confirm(clerk=clerk_b, batch=batch)
    with pytest.raises(Refused):
        open_batch(clerk_b, petition=petition)


def test_counts_show_both_channels_and_the_threshold_uses_their_sum(
    clerk_a, clerk_a2, petition, client
):
    for _ in range(2):
        petition_sign(petition=petition, user=make_user())
    batch = open_batch(clerk_a, petition=petition)
    for _ in range(3):
        enter(clerk_a, batch)
    confirm(clerk=clerk_a2, batch=batch)  # the tally runs eagerly on commit
    petition.refresh_from_db()
    assert petition.signature_count == 5 and petition.paper_signature_count == 3
    assert petition.status == Petition.Status.REACHED  # threshold 5 = 2 online + 3 paper
    page = client.get(petition.get_absolute_url()).content.decode()
    assert "online 2 · on paper 3" in page or "онлайн: 2 · на папері: 3" in page
    export = b"".join(client.get("/petitions/export.csv").streaming_content).decode()
    assert "paper_signature_count" in export.splitlines()[0]


def test_a_correction_voids_the_old_line_when_confirmed_never_editing_it(
    clerk_a, clerk_a2, petition
):
    batch = open_batch(clerk_a, petition=petition)
    number, typo_number = rnokpp(), rnokpp()
    wrong = enter(clerk_a, batch, typo_number, name="Ганна Мельнк")
    kept = enter(clerk_a, batch, number)
    confirm(clerk=clerk_a2, batch=batch)

    fix = open_batch(clerk_a, petition=petition)
    # the same person with the right number; and a misspelt name of the same number
    replacement = enter(clerk_a, fix, number=rnokpp(), voids=wrong)
    same_person = enter(clerk_a, fix, number, name="Ганна Петрівна Мельник-Коваль", voids=kept)
    with pytest.raises(Refused):
        enter(clerk_a, fix, rnokpp(), voids=wrong)  # one correction per line
    wrong.refresh_from_db()
    assert wrong.is_counted  # until the correction is confirmed
    confirm(clerk=clerk_a2, batch=fix)

    wrong.refresh_from_db()
    kept.refresh_from_db()
    assert wrong.voided_at and kept.voided_at
    assert (wrong.full_name, wrong.key) == ("Ганна Мельнк", wrong.key)  # untouched
    counted = Line.objects.filter(services.counted_lines(), batch__petition=petition)
    assert set(counted) == {replacement, same_person}
    petition.refresh_from_db()
    assert petition.paper_signature_count == 2
    # the typo's person is released; the kept person's act moved to the corrected line
    assert not CountedAct.objects.filter(key=wrong.key).exists()
    assert CountedAct.objects.get(key=kept.key).line_id == same_person.pk


def test_a_void_only_correction_releases_the_person(clerk_a, clerk_a2, petition):
    number = rnokpp()
    batch = open_batch(clerk_a, petition=petition)
    line = enter(clerk_a, batch, number)
    confirm(clerk=clerk_a2, batch=batch)
    fix = open_batch(clerk_a, petition=petition)
    with pytest.raises(Refused):
        services.line_void(clerk=clerk_a, batch=fix, voids=line, reason=" ")
    services.line_void(clerk=clerk_a, batch=fix, voids=line, reason="Підпис не цієї особи")
    confirm(clerk=clerk_a2, batch=fix)
    petition.refresh_from_db()
    assert petition.paper_signature_count == 0
    petition_sign(petition=petition, user=identified(number))  # may now sign online


def test_a_rejected_batch_never_counts_and_releases_its_people(clerk_a, clerk_a2, petition):
    number = rnokpp()
    batch = open_batch(clerk_a, petition=petition)
    enter(clerk_a, batch, number)
    with pytest.raises(Refused):
        services.batch_reject(clerk=clerk_a, batch=batch, reason="не збігається")
    services.batch_reject(clerk=clerk_a2, batch=batch, reason="Скан не збігається з рядками")
    assert not CountedAct.objects.exists()
    petition_tally(petition_id=petition.pk)
    petition.refresh_from_db()
    assert petition.signature_count == 0
    assert AuditEntry.objects.filter(action="paper.batch.rejected").get().reason


def test_a_batch_outside_the_collection_period_is_refused(clerk_a, petition):
    from datetime import timedelta

    with pytest.raises(Refused) as refused:
        open_batch(
            clerk_a, petition=petition, day=timezone.localdate(petition.published_at) - timedelta(3)
        )
    assert refused.value.field == "collected_on"


def test_counted_and_voided_lines_are_ledger_leaves_without_personal_data(
    clerk_a, clerk_a2, petition
):
    batch = open_batch(clerk_a, petition=petition)
    line = enter(clerk_a, batch, name="Марта Олійник")
    confirm(clerk=clerk_a2, batch=batch)
    fix = open_batch(clerk_a, petition=petition)
    services.line_void(clerk=clerk_a, batch=fix, voids=line, reason="Помилка")
    confirm(clerk=clerk_a2, batch=fix)
    ledger.sequence_all()
    leaves = {e.act: e for e in Entry.objects.filter(source_id=line.pk)}
    assert {"paper.signature", "paper.signature_void"} <= set(leaves)
    data = bytes(leaves["paper.signature"].data).decode()
    assert f"petitions.petition/{petition.pk}" in data
    assert "Олійник" not in data and line.key not in data and "person" not in data
    assert leaves["paper.signature"].person_id is None
    decisions = Entry.objects.filter(act="paper.batch.confirmed")
    assert decisions.count() == 2
