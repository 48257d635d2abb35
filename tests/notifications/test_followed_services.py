"""Public budgets, petitions, academy sessions and problem reports tell their followers, and
voting and registering follow automatically (issue 16)."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from initiatives.models import Initiative
from initiatives.services import initiative_accept, programme_announce_stage
from opencity.core.models import OutboundEmail
from opencity.notifications import services
from opencity.notifications.models import Delivery, Follow
from tests.factories import make_user
from tests.initiatives.factories import make_category, make_initiative, make_programme

pytestmark = pytest.mark.django_db


def test_project_status_reaches_followers_once_and_not_twice_the_author(
    committed, city_a, moderator_a
):
    programme = make_programme(city_a, stage="review")
    make_category(programme)
    project = make_initiative(programme, status=Initiative.Status.SUBMITTED)
    follower = make_user(preferred_language="en")
    services.follow(follower, project)
    services.follow(project.author, project)
    with committed():
        initiative_accept(initiative=project, actor=moderator_a)
    notice = OutboundEmail.objects.get(to=follower.email, key__startswith="notification:")
    assert "accepted for voting" in notice.body_text
    assert notice.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not OutboundEmail.objects.filter(
        to=project.author.email, key__startswith="notification:"
    ).exists()
    assert Delivery.objects.filter(user=follower).count() == 1


def test_voting_opens_reaches_programme_followers_once(committed, city_a):
    programme = make_programme(city_a, stage="voting")
    follower = make_user()
    services.follow(follower, programme)
    with committed():
        assert programme_announce_stage(programme_id=programme.pk)
    with committed():
        programme_announce_stage(programme_id=programme.pk)
    assert (
        OutboundEmail.objects.filter(to=follower.email, key__startswith="notification:").count()
        == 1
    )


def test_problem_report_followed_here_mails_each_follower_once_with_unsubscribe(
    committed, client, city_a, moderator_a
):
    from problems import services as problems
    from problems.models import Follow as ProblemFollow
    from tests.problems.factories import make_area, make_tree

    make_area(city_a)
    potholes = make_tree(city_a)[2]
    reporter = make_user()
    report = file_report_for(city_a, potholes, reporter)
    follower = make_user()
    client.force_login(follower)
    client.post(reverse("notifications:follow", args=["problems.report", report.pk]))
    assert ProblemFollow.objects.filter(report=report, user=follower).exists()  # mirrored
    with committed():
        problems.report_transition(report, to="accepted", actor=moderator_a)
    for person in (reporter, follower):
        mails = OutboundEmail.objects.filter(to=person.email, key__startswith="problems:status")
        assert mails.count() == 1
        assert mails.get().headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert not OutboundEmail.objects.filter(key__startswith="notification:").exists()
    client.post(
        reverse("notifications:follow", args=["problems.report", report.pk]), {"action": "unfollow"}
    )
    assert not ProblemFollow.objects.filter(report=report, user=follower).exists()


def test_unsubscribe_from_a_service_notice_stops_that_notice(committed, client, city_a):
    from tests.petitions.factories import make_petition

    petition = make_petition(city_a, status="collecting", threshold=1)
    with committed():
        from petitions import services as petitions

        petitions.petition_sign(petition=petition, user=make_user())
        petitions.petition_tally(petition_id=petition.pk)
    reached = OutboundEmail.objects.get(to=petition.author.email, key__contains=":reached:")
    url = reached.headers["List-Unsubscribe"].strip("<>")
    client.post(
        url[url.index("/account/") :],
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert services.stopped(petition.author, "mail:petition_reached")
    client.force_login(petition.author)
    page = client.get(reverse("notifications:settings")).content.decode()
    assert "petition reached" in page


def file_report_for(city, category, reporter):
    from tests.problems.factories import file_report

    return file_report(city, category, reporter)


def test_problem_reports_followed_by_filing_or_me_too_are_listed_and_can_be_unfollowed(
    client, city_a
):
    from problems import services as problems
    from problems.models import Follow as ProblemFollow
    from tests.problems.factories import make_area, make_tree

    make_area(city_a)
    potholes = make_tree(city_a)[2]
    reporter = make_user()
    filed = file_report_for(city_a, potholes, reporter)
    other = file_report_for(city_a, potholes, make_user())
    problems.report_support(report=other, user=reporter)  # "me too" follows it as well
    unrelated = file_report_for(city_a, potholes, make_user())
    client.force_login(reporter)
    page = client.get(reverse("notifications:settings")).content.decode()
    for report in (filed, other):
        assert reverse("notifications:follow", args=["problems.report", report.pk]) in page
        assert report.get_absolute_url() in page
    assert unrelated.get_absolute_url() not in page
    response = client.post(
        reverse("notifications:follow", args=["problems.report", filed.pk]),
        {"action": "unfollow", "next": reverse("notifications:settings")},
    )
    assert response["Location"] == reverse("notifications:settings")
    assert not ProblemFollow.objects.filter(report=filed, user=reporter).exists()
    page = client.get(reverse("notifications:settings")).content.decode()
    assert filed.get_absolute_url() not in page and other.get_absolute_url() in page


def test_problem_report_status_waits_for_the_digest_of_a_follower_who_chose_one(
    committed, city_a, moderator_a
):
    from problems import services as problems
    from tests.problems.factories import make_area, make_tree

    make_area(city_a)
    potholes = make_tree(city_a)[2]
    reporter = make_user(preferred_language="en")
    report = file_report_for(city_a, potholes, reporter)  # the filer follows it
    services.set_pace(reporter, "problems.status", "daily")
    quiet = make_user()
    problems.report_support(report=report, user=quiet)  # "me too" follows it too
    services.set_pace(quiet, "problems.status", "none")
    at_once = make_user()
    problems.report_support(report=report, user=at_once)
    with committed():
        problems.report_transition(report, to="accepted", actor=moderator_a)
    mailed = set(OutboundEmail.objects.values_list("to", flat=True))
    assert at_once.email in mailed
    assert reporter.email not in mailed and quiet.email not in mailed
    assert Delivery.objects.get(user=reporter).status == Delivery.Status.WAITING
    assert Delivery.objects.get(user=quiet).status == Delivery.Status.SKIPPED
    assert not Delivery.objects.filter(user=at_once).exists()  # told once, by problems
    with committed():
        kyiv_eight = timezone.localtime(timezone.now(), ZoneInfo("Europe/Kyiv")).replace(hour=8)
        services.send_digests(kyiv_eight + timedelta(days=1))
    digest = OutboundEmail.objects.get(to=reporter.email, key__startswith="digest:daily")
    assert "The report's status is now: accepted" in digest.body_text


def test_filing_and_me_too_do_not_follow_a_report_when_automatic_follows_are_off(client, city_a):
    from problems.models import Follow as ProblemFollow
    from tests.problems.factories import make_area, make_tree

    make_area(city_a)
    potholes = make_tree(city_a)[2]
    reporter = make_user()
    services.set_auto_follow(reporter, False)
    filed = file_report_for(city_a, potholes, reporter)
    other = file_report_for(city_a, potholes, make_user())
    client.force_login(reporter)
    response = client.post(reverse("problems:support", args=[other.pk]), follow=True)
    assert "You follow this report" not in response.content.decode()
    assert not ProblemFollow.objects.filter(user=reporter).exists()
    assert filed.follows.count() == 0 and other.follows.count() == 1  # its own filer


def test_casting_a_budget_vote_follows_the_project_unless_turned_off(committed, city_a):
    from initiatives.services import vote_cast
    from tests.initiatives.factories import make_voter

    programme = make_programme(city_a, stage="voting")
    project = make_initiative(programme)
    voter, quiet = make_voter(city_a), make_voter(city_a)
    services.set_auto_follow(quiet, False)
    with committed():  # the follow is made after commit, by a task
        vote_cast(voter=voter, initiative=project)
        vote_cast(voter=quiet, initiative=project)
    assert services.is_following(voter, project)
    assert not services.is_following(quiet, project)
    follows = Follow.objects.filter(user=voter)
    assert [(f.content_type.model, f.object_id) for f in follows] == [("initiative", project.pk)]


def test_registering_for_an_academy_session_follows_it_unless_turned_off(city_a):
    from academy import services as academy
    from tests.academy.factories import make_session

    session = make_session(city=city_a)
    person, quiet = make_user(home_city=city_a), make_user(home_city=city_a)
    services.set_auto_follow(quiet, False)
    academy.register(session_id=session.pk, user=person)
    academy.register(session_id=session.pk, user=quiet)
    assert services.is_following(person, session)
    assert not services.is_following(quiet, session)


def test_petition_closed_reaches_a_follower_once(committed, city_a):
    from petitions import services as petitions
    from tests.petitions.factories import make_petition

    petition = make_petition(
        city_a,
        status="collecting",
        threshold=100,
        collection_ends_at=timezone.now() - timedelta(days=1),
    )
    follower = make_user(preferred_language="en")
    services.follow(follower, petition)
    services.follow(petition.author, petition)
    with committed():
        assert petitions.close_expired() == 1
    with committed():
        assert petitions.close_expired() == 0
    notices = OutboundEmail.objects.filter(to=follower.email, key__startswith="notification:")
    assert notices.count() == 1
    assert "closed below its threshold" in notices.get().body_text
    assert Delivery.objects.filter(user=follower).count() == 1
    # The author hears it once, by the petition's own mail, not a second time as a follower.
    assert not OutboundEmail.objects.filter(
        to=petition.author.email, key__startswith="notification:"
    ).exists()


def test_results_reach_a_programme_follower_once(committed, city_a, moderator_a):
    from initiatives.models import Ballot
    from initiatives.services import results_publish, tally_programme, vote_cast
    from opencity.core import Refused
    from tests.initiatives.factories import make_voter, stage_dates

    programme = make_programme(city_a, stage="voting")
    project = make_initiative(programme)
    voter = make_voter(city_a, preferred_language="en")
    with committed():
        vote_cast(voter=voter, initiative=project)
    Ballot.objects.filter(voter=voter).update(notify=True)  # asked for the results by mail
    follower = make_user(preferred_language="en")
    for person in (follower, voter):
        services.follow(person, programme)
    type(programme).objects.filter(pk=programme.pk).update(**stage_dates("results"))
    snapshot = tally_programme(programme_id=programme.pk)
    with committed():
        results_publish(snapshot=snapshot, actor=moderator_a)
    with pytest.raises(Refused), committed():
        results_publish(snapshot=snapshot, actor=moderator_a)
    notices = OutboundEmail.objects.filter(to=follower.email, key__startswith="notification:")
    assert notices.count() == 1 and "results are published" in notices.get().body_text
    assert Delivery.objects.filter(user=follower).count() == 1
    # The voter who asked for the results hears of them by that mail only.
    assert not OutboundEmail.objects.filter(
        to=voter.email, key__startswith="notification:"
    ).exists()
    assert OutboundEmail.objects.filter(
        to=voter.email, key__startswith="initiatives:results:"
    ).exists()
