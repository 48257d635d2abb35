"""Submitting, revising and withdrawing initiatives; bad input keeps what was typed."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from initiatives.models import CostLine, Initiative
from initiatives.services import (
    CostLineInput,
    initiative_request_revision,
    initiative_submit,
    initiative_withdraw,
)
from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from tests.factories import make_user
from tests.initiatives.factories import make_category, make_initiative, make_programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme(city_a):
    programme = make_programme(city_a, stage="submission")
    make_category(programme, name="Малі проєкти", budget="1000000", max_cost="300000")
    return programme


@pytest.fixture
def category(programme):
    return programme.categories.get()


def form_data(category, lines=(("Лавки", "12000.50"), ("Монтаж", "3000")), **fields):
    data = {
        "category": category.pk,
        "title": "Сквер на Відродження",
        "summary": "Лавки і тінь для мешканців кварталу.",
        "description": "Встановимо лавки та висадимо дерева.",
        "address": "просп. Відродження, 12",
        "latitude": "50.747233",
        "longitude": "25.325383",
        "lines-TOTAL_FORMS": "4",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "30",
    }
    for n, (description, amount) in enumerate(lines):
        data[f"lines-{n}-description"] = description
        data[f"lines-{n}-amount"] = amount
    data.update(fields)
    return data


def submit_url(programme):
    return reverse("initiatives:submit", args=[programme.slug])


def test_citizen_submits_and_the_server_computes_the_total(
    citizen_client, citizen, programme, category, moderator_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(submit_url(programme), form_data(category))
    initiative = Initiative.objects.get()
    assert response.status_code == 302 and response["Location"] == initiative.get_absolute_url()
    assert initiative.author == citizen and initiative.status == Initiative.Status.SUBMITTED
    assert initiative.total_cost == Decimal("15000.50")
    assert list(initiative.cost_lines.values_list("position", "amount")) == [
        (1, Decimal("12000.50")),
        (2, Decimal("3000.00")),
    ]
    assert AuditEntry.objects.filter(
        action="initiatives.initiative.submitted", actor=citizen
    ).exists()
    recipients = sorted(m.to[0] for m in mail.outbox)
    assert recipients == sorted([citizen.email, moderator_a.email])


def test_a_total_sent_by_the_browser_is_ignored(citizen_client, programme, category):
    citizen_client.post(submit_url(programme), form_data(category, total_cost="1"))
    assert Initiative.objects.get().total_cost == Decimal("15000.50")


def _errors_page(client, programme, data):
    response = client.post(submit_url(programme), data)
    assert response.status_code == 400
    assert not Initiative.objects.exists()
    html = response.content.decode()
    assert "Сквер на Відродження" in html  # what was typed is kept
    return html


def test_cost_over_the_category_maximum_is_refused_with_a_clear_error(
    citizen_client, programme, category
):
    html = _errors_page(
        citizen_client, programme, form_data(category, lines=[("Будівництво", "300000.01")])
    )
    assert "перевищує" in html and "300000.01" in html


def test_negative_amount_is_refused(citizen_client, programme, category):
    html = _errors_page(citizen_client, programme, form_data(category, lines=[("Лавки", "-5")]))
    assert "більшою за нуль" in html
    assert 'value="-5"' in html


def test_no_cost_lines_at_all_is_refused(citizen_client, programme, category):
    html = _errors_page(citizen_client, programme, form_data(category, lines=[]))
    assert "Додайте хоча б один рядок" in html


def test_a_half_filled_cost_line_is_refused(citizen_client, programme, category):
    html = _errors_page(
        citizen_client, programme, form_data(category, lines=[("Лавки", "100"), ("Фарба", "")])
    )
    assert "обов" in html  # «Обов’язкове поле.»


def test_text_with_html_is_refused_on_that_field(citizen_client, programme, category):
    response = citizen_client.post(
        submit_url(programme), form_data(category, description="<script>x</script>")
    )
    assert response.status_code == 400 and not Initiative.objects.exists()
    form = response.context["form"]
    assert form.errors == {
        "description": ["Використовуйте, будь ласка, звичайний текст без HTML-розмітки."]
    }
    assert "Сквер на Відродження" in response.content.decode()  # the rest is kept


def test_only_one_coordinate_is_refused(citizen_client, programme, category):
    html = _errors_page(citizen_client, programme, form_data(category, longitude=""))
    assert "Вкажіть і широту, і довготу або жодної з них." in html


def test_submission_outside_the_stage_is_refused_and_keeps_the_input(citizen_client, city_a):
    programme = make_programme(city_a, stage="review")
    category = make_category(programme)
    html = _errors_page(citizen_client, programme, form_data(category))
    assert "закрито" in html


def test_unverified_user_cannot_submit(client, unverified_citizen, programme, category):
    client.force_login(unverified_citizen)
    html = _errors_page(client, programme, form_data(category))
    assert "Підтвердіть" in html


def test_anonymous_visitor_is_asked_to_sign_in(client, programme):
    response = client.get(submit_url(programme))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_submission_form_renders_for_a_signed_in_citizen(citizen_client, programme):
    response = citizen_client.get(submit_url(programme))
    assert response.status_code == 200 and 'name="lines-0-amount"' in response.content.decode()


def test_too_many_submissions_get_429(citizen_client, programme, category, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "file": (1, 3600)}
    assert citizen_client.post(submit_url(programme), form_data(category)).status_code == 302
    assert citizen_client.post(submit_url(programme), form_data(category)).status_code == 429
    assert Initiative.objects.count() == 1


def test_service_refuses_a_category_of_another_programme(citizen, programme, city_a):
    other = make_category(make_programme(city_a, stage="submission"))
    with pytest.raises(Refused):
        initiative_submit(
            author=citizen,
            programme=programme,
            category=other,
            district=None,
            title="x",
            summary="x",
            description="x",
            address="x",
            latitude=None,
            longitude=None,
            cost_lines=[CostLineInput("a", Decimal("1"))],
        )


def test_database_refuses_coordinates_out_of_range_and_non_positive_amounts(programme):
    initiative = make_initiative(programme)
    with pytest.raises(IntegrityError), transaction.atomic():
        Initiative.objects.filter(pk=initiative.pk).update(latitude=91, longitude=10)
    with pytest.raises(IntegrityError), transaction.atomic():
        Initiative.objects.filter(pk=initiative.pk).update(latitude=10, longitude=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        CostLine.objects.create(initiative=initiative, position=9, description="x", amount=0)


# --- revise and resubmit, withdraw ------------------------------------------------------------
@pytest.fixture
def sent_back(programme, category, citizen, moderator_a):
    initiative = make_initiative(
        programme, category, author=citizen, status=Initiative.Status.SUBMITTED
    )
    initiative_request_revision(
        initiative=initiative, actor=moderator_a, comment="Уточніть кошторис на лавки."
    )
    return initiative


def test_author_revises_and_resubmits(citizen_client, sent_back, category):
    url = reverse("initiatives:revise", args=[sent_back.programme.slug, sent_back.pk])
    page = citizen_client.get(url).content.decode()
    assert "Уточніть кошторис" in page and 'value="Роботи"' in page
    data = form_data(category, lines=[("Лавки (5 шт.)", "25000")])
    data["lines-TOTAL_FORMS"] = "5"
    response = citizen_client.post(url, data)
    assert response.status_code == 302
    sent_back.refresh_from_db()
    assert sent_back.status == Initiative.Status.SUBMITTED
    assert sent_back.total_cost == Decimal("25000.00")
    assert sent_back.title == "Сквер на Відродження"
    assert AuditEntry.objects.filter(action="initiatives.initiative.resubmitted").count() == 1


def test_revision_with_bad_input_keeps_what_was_typed(citizen_client, sent_back, category):
    url = reverse("initiatives:revise", args=[sent_back.programme.slug, sent_back.pk])
    response = citizen_client.post(url, form_data(category, lines=[("Лавки", "0")]))
    assert response.status_code == 400
    assert "Сквер на Відродження" in response.content.decode()
    sent_back.refresh_from_db()
    assert sent_back.status == Initiative.Status.REVISION


def test_someone_else_cannot_revise_or_see_a_revision_in_progress(client, sent_back, category):
    client.force_login(make_user())
    url = reverse("initiatives:revise", args=[sent_back.programme.slug, sent_back.pk])
    assert client.post(url, form_data(category)).status_code == 404
    assert client.get(sent_back.get_absolute_url()).status_code == 404


def test_author_withdraws_before_review_ends(citizen_client, programme, category, citizen):
    initiative = make_initiative(
        programme, category, author=citizen, status=Initiative.Status.SUBMITTED
    )
    url = reverse("initiatives:withdraw", args=[programme.slug, initiative.pk])
    assert citizen_client.post(url).status_code == 302
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.WITHDRAWN
    assert AuditEntry.objects.filter(action="initiatives.initiative.withdrawn").count() == 1


def test_withdrawal_after_review_is_refused(citizen, city_a):
    programme = make_programme(city_a, stage="voting")
    initiative = make_initiative(programme, author=citizen)
    with pytest.raises(Refused):
        initiative_withdraw(initiative=initiative, author=citizen)
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.ACCEPTED


def test_another_user_cannot_withdraw(client, programme, citizen):
    initiative = make_initiative(programme, author=citizen, status=Initiative.Status.SUBMITTED)
    client.force_login(make_user())
    url = reverse("initiatives:withdraw", args=[programme.slug, initiative.pk])
    assert client.post(url).status_code == 404
    initiative.refresh_from_db()
    assert initiative.status == Initiative.Status.SUBMITTED


def test_author_is_emailed_once_when_received(programme, category, citizen):
    initiative_submit(
        author=citizen,
        programme=programme,
        category=category,
        district=None,
        title="Т",
        summary="С",
        description="О",
        address="А",
        latitude=None,
        longitude=None,
        cost_lines=[CostLineInput("a", Decimal("10"))],
    )
    assert OutboundEmail.objects.filter(key__startswith="initiatives:received:").count() == 1


def test_resubmission_tells_the_staff_again(citizen_client, sent_back, category, moderator_a):
    url = reverse("initiatives:revise", args=[sent_back.programme.slug, sent_back.pk])
    citizen_client.post(url, form_data(category))
    keys = OutboundEmail.objects.filter(to=moderator_a.email).values_list("key", flat=True)
    assert any(key.startswith("initiatives:resubmitted:") for key in keys)


def test_revision_after_the_review_deadline_is_refused(citizen, sent_back, category):
    from initiatives.services import initiative_resubmit

    programme = sent_back.programme
    programme.submission_opens -= timedelta(days=60)
    programme.submission_closes -= timedelta(days=60)
    programme.review_closes = timezone.localdate() - timedelta(days=1)
    programme.save()
    with pytest.raises(Refused) as info:
        initiative_resubmit(
            initiative=sent_back,
            author=citizen,
            category=category,
            district=None,
            title="x",
            summary="x",
            description="x",
            address="x",
            latitude=None,
            longitude=None,
            cost_lines=[CostLineInput("a", Decimal("1"))],
        )
    assert info.value.code == "stage"
