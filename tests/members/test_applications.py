"""Joining: the online application, upload checks, the review workflow and its e-mails."""

from datetime import date

import pytest
from django.core import mail
from django.urls import reverse

from members import conf
from members.models import MembershipApplication, MembershipEvent
from members.selectors import city_membership_status
from members.services import (
    application_accept,
    application_decline,
    application_recommend,
    application_request_info,
    application_resubmit,
    application_submit,
)
from opencity.core import Refused
from opencity.core.models import AuditEntry, OutboundEmail
from tests.factories import make_user
from tests.members.factories import PDF_BYTES, make_member, pdf_upload

pytestmark = pytest.mark.django_db
A = MembershipApplication.Status


def _form_data(city, **overrides):
    data = {
        "city": city.pk,
        "council_decision_number": "№ 12/34",
        "council_decision_date": "2024-03-15",
        "contact_name": "Олег Самбірський",
        "contact_email": "oleh@sambir.example",
        "contact_phone": "+380 32 000 00 00",
        "message": "Просимо прийняти нашу громаду.",
        "decision_file": pdf_upload(),
    }
    data.update(overrides)
    return data


def _submit(city, applicant):
    return application_submit(
        applicant=applicant,
        city=city,
        council_decision_number="12/34",
        council_decision_date=date(2024, 3, 15),
        contact_name="Олег",
        contact_email="oleh@sambir.example",
        decision_file=pdf_upload(),
    )


# --- the form ---------------------------------------------------------------------------------
def test_anonymous_is_sent_to_sign_in(client, city_a):
    response = client.get(reverse("members:application_new"))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_representative_applies_and_gets_a_confirmation(
    citizen_client, citizen, city_a, _private_files, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = citizen_client.post(reverse("members:application_new"), _form_data(city_a))
    application = MembershipApplication.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("members:application_detail", args=[application.pk])
    assert (application.status, application.applicant, application.city) == (
        A.SUBMITTED,
        citizen,
        city_a,
    )
    stored = _private_files / application.decision_file.name
    assert stored.read_bytes() == PDF_BYTES
    assert "decision.pdf" not in application.decision_file.name  # never the uploader's name
    assert AuditEntry.objects.filter(action="members.application.submitted").count() == 1
    assert [m.to for m in mail.outbox] == [[citizen.email]]


def test_text_file_named_pdf_is_refused_and_typed_values_are_kept(citizen_client, city_a):
    upload = pdf_upload(content=b"just text, not a PDF", content_type="application/pdf")
    response = citizen_client.post(
        reverse("members:application_new"), _form_data(city_a, decision_file=upload)
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert [e.code for e in form.errors.as_data()["decision_file"]] == ["not_pdf"]
    body = response.content.decode()
    assert "Олег Самбірський" in body and "№ 12/34" in body  # what was typed stays
    assert MembershipApplication.objects.count() == 0


def test_pdf_bytes_with_a_wrong_content_type_are_refused(citizen_client, city_a):
    upload = pdf_upload(content_type="text/plain")
    response = citizen_client.post(
        reverse("members:application_new"), _form_data(city_a, decision_file=upload)
    )
    assert [e.code for e in response.context["form"].errors.as_data()["decision_file"]] == [
        "not_pdf"
    ]


def test_too_big_file_is_refused(citizen_client, city_a, monkeypatch):
    monkeypatch.setattr(conf, "DECISION_MAX_MB", 1)
    upload = pdf_upload(content=PDF_BYTES + b"0" * (1024 * 1024))
    response = citizen_client.post(
        reverse("members:application_new"), _form_data(city_a, decision_file=upload)
    )
    assert response.status_code == 200
    assert [e.code for e in response.context["form"].errors.as_data()["decision_file"]] == [
        "too_big"
    ]
    assert MembershipApplication.objects.count() == 0


def test_failed_form_says_the_file_must_be_chosen_again(citizen_client, city_a):
    response = citizen_client.post(
        reverse("members:application_new"), _form_data(city_a, contact_name="")
    )
    from members.forms import REFILL_FILE

    assert str(REFILL_FILE) in [str(e) for e in response.context["form"].non_field_errors()]


def test_member_city_cannot_apply_again(citizen, city_a):
    make_member(city_a)
    with pytest.raises(Refused) as refused:
        _submit(city_a, citizen)
    assert refused.value.code == "already_member"


def test_second_open_application_for_a_city_is_refused(citizen, city_a):
    _submit(city_a, citizen)
    with pytest.raises(Refused) as refused:
        _submit(city_a, make_user())
    assert refused.value.code == "open_application"
    assert MembershipApplication.objects.count() == 1


# --- the review workflow -----------------------------------------------------------------------
def test_full_workflow_notifies_the_applicant_at_each_step_and_accepting_makes_a_member(
    citizen, city_a, association_staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        application = _submit(city_a, citizen)
        application_request_info(
            application=application, actor=association_staff, note="Додайте протокол сесії."
        )
        application_resubmit(
            application=application,
            applicant=citizen,
            message="Протокол додано.",
            decision_file=pdf_upload(),
        )
        application_recommend(application=application, actor=association_staff)
        application_accept(
            application=application,
            actor=association_staff,
            decided_by=MembershipEvent.Body.ASSEMBLY,
            decision_date=date(2024, 6, 1),
            decision_ref="GA-2024/2",
        )
    application.refresh_from_db()
    assert application.status == A.ACCEPTED
    event = application.membership_event
    assert (event.status, event.effective_on, event.decision_ref, event.decided_by) == (
        "member",
        date(2024, 6, 1),
        "GA-2024/2",
        "assembly",
    )
    assert city_membership_status(city_a) == "member"
    actions = list(
        AuditEntry.objects.filter(action__startswith="members.application.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "members.application.submitted",
        "members.application.info_requested",
        "members.application.resubmitted",
        "members.application.recommended",
        "members.application.accepted",
    ]
    emails = OutboundEmail.objects.filter(to=citizen.email).order_by("id")
    assert emails.count() == 5
    assert len(set(emails.values_list("key", flat=True))) == 5
    assert len(mail.outbox) == 5
    assert "Додайте протокол сесії." in mail.outbox[1].body


def test_declining_needs_a_reason_and_notifies(citizen, city_a, association_staff):
    application = _submit(city_a, citizen)
    with pytest.raises(Refused) as refused:
        application_decline(application=application, actor=association_staff, note=" ")
    assert refused.value.code == "note"
    application_decline(application=application, actor=association_staff, note="Немає кворуму.")
    application.refresh_from_db()
    assert application.status == A.DECLINED
    assert OutboundEmail.objects.filter(key__contains=".decline.").count() == 1
    # a declined city may apply again
    assert _submit(city_a, citizen).status == A.SUBMITTED


def test_only_a_recommended_application_can_be_accepted(citizen, city_a, association_staff):
    application = _submit(city_a, citizen)
    with pytest.raises(Refused) as refused:
        application_accept(
            application=application,
            actor=association_staff,
            decided_by="board",
            decision_date=date(2024, 6, 1),
            decision_ref="B-1",
        )
    assert refused.value.code == "status"
    assert not MembershipEvent.objects.exists()
    application.refresh_from_db()
    assert application.status == A.SUBMITTED


def test_secretariat_cannot_accept_on_its_own(citizen, city_a, association_staff):
    application = _submit(city_a, citizen)
    application_recommend(application=application, actor=association_staff)
    with pytest.raises(Refused) as refused:
        application_accept(
            application=application,
            actor=association_staff,
            decided_by="secretariat",
            decision_date=date(2024, 6, 1),
            decision_ref="S-1",
        )
    assert refused.value.code == "decided_by"
    application.refresh_from_db()
    assert application.status == A.RECOMMENDED


def test_only_the_applicant_answers_a_request(citizen, city_a, association_staff):
    application = _submit(city_a, citizen)
    application_request_info(application=application, actor=association_staff, note="?")
    with pytest.raises(Refused) as refused:
        application_resubmit(application=application, applicant=make_user(), message="x")
    assert refused.value.code == "forbidden"
    application.refresh_from_db()
    assert application.status == A.INFO_REQUESTED


def test_admin_review_step_goes_through_the_service(association_client, citizen, city_a):
    application = _submit(city_a, citizen)
    url = reverse("admin:members_membershipapplication_change", args=[application.pk])
    assert association_client.get(url).status_code == 200
    response = association_client.post(url, {"step": "recommend", "note": ""})
    assert response.status_code == 302
    application.refresh_from_db()
    assert application.status == A.RECOMMENDED
    assert AuditEntry.objects.filter(action="members.application.recommended").count() == 1


def test_city_clerk_does_not_see_applications_in_admin(moderator_a_client, citizen, city_a):
    _submit(city_a, citizen)
    url = reverse("admin:members_membershipapplication_changelist")
    assert moderator_a_client.get(url).status_code == 403


# --- the private file ---------------------------------------------------------------------------
def test_decision_pdf_is_served_to_applicant_and_staff_only(
    client, citizen, city_a, association_staff
):
    application = _submit(city_a, citizen)
    url = reverse("members:application_file", args=[application.pk])
    assert client.get(url).status_code == 302  # anonymous → sign in
    client.force_login(make_user())
    assert client.get(url).status_code == 404
    for user in (citizen, association_staff):
        client.force_login(user)
        response = client.get(url)
        assert response.status_code == 200
        assert b"".join(response.streaming_content) == PDF_BYTES
        assert response["Content-Type"] == "application/pdf"
        assert "no-store" in response["Cache-Control"]


def test_uploaded_files_are_not_under_the_public_media_root(citizen, city_a, settings):
    application = _submit(city_a, citizen)
    from pathlib import Path

    path = Path(application.decision_file.path).resolve()
    assert Path(settings.MEDIA_ROOT).resolve() not in path.parents


def test_applicant_answers_on_the_application_page(
    citizen_client, citizen, city_a, association_staff
):
    application = _submit(city_a, citizen)
    url = reverse("members:application_detail", args=[application.pk])
    refused = citizen_client.post(url, {"message": "x"})  # nothing was asked
    assert refused.status_code == 409
    assert "Секретаріат не запитував додаткової інформації" in refused.content.decode()
    application_request_info(application=application, actor=association_staff, note="Протокол?")
    response = citizen_client.post(url, {"message": "Ось протокол."})
    assert response.status_code == 302
    application.refresh_from_db()
    assert (application.status, application.message) == (A.SUBMITTED, "Ось протокол.")


def test_my_applications_lists_only_my_own(client, citizen, city_a, city_b):
    url = reverse("members:application_mine")
    assert client.get(url).status_code == 302
    mine = _submit(city_a, citizen)
    other = _submit(city_b, make_user())
    client.force_login(citizen)
    assert list(client.get(url).context["applications"]) == [mine]
    assert client.get(reverse("members:application_detail", args=[other.pk])).status_code == 404


def test_membership_change_in_admin_is_audited(association_client, city_a):
    url = reverse("admin:members_membershipevent_add")
    response = association_client.post(
        url,
        {"city": city_a.pk, "status": "member", "effective_on": "2024-05-01",
         "decided_by": "assembly", "decision_date": "2024-05-01", "decision_ref": "GA-2024/5"},
    )  # fmt: skip
    assert response.status_code == 302
    entry = AuditEntry.objects.get(action="members.membership.changed")
    assert (entry.to_state, entry.reason, entry.city) == ("member", "GA-2024/5", city_a)
    assert city_membership_status(city_a) == "member"


def test_too_many_submissions_get_429(citizen_client, city_a, monkeypatch):
    from opencity import ratelimit

    monkeypatch.setattr(ratelimit, "allow_request", lambda action, request: action != "file")
    response = citizen_client.post(reverse("members:application_new"), _form_data(city_a))
    assert response.status_code == 429
    assert MembershipApplication.objects.count() == 0
