"""Public budgets and problem reports tell their followers (issue 16)."""

import pytest

from initiatives.models import Initiative
from initiatives.services import initiative_accept, programme_announce_stage
from opencity.core.models import OutboundEmail
from opencity.notifications import services
from opencity.notifications.models import Delivery
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
