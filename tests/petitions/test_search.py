"""Full-text search on PostgreSQL: a stored document kept by a trigger, tolerant of any input."""

import pytest
from django.db import connection

from petitions import selectors
from petitions.models import Petition
from tests.petitions.factories import make_petition

pytestmark = pytest.mark.django_db


def found(text):
    return set(selectors.search(selectors.public_petitions(), text).values_list("pk", flat=True))


def test_search_finds_words_of_the_text_and_follows_edits(city_a):
    assert connection.vendor == "postgresql"
    petition = make_petition(city_a, title="Сквер біля школи", text="Посадити каштани та липи")
    other = make_petition(city_a, title="Ремонт даху", text="Дах протікає вже два роки")
    assert found("каштани") == {petition.pk}
    assert found("ремонт даху") == {other.pk}
    assert found("дах -ремонт") == set()
    Petition.objects.filter(pk=other.pk).update(title="Заміна покрівлі")
    assert found("покрівлі") == {other.pk}
    assert found("ремонт") == set()


@pytest.mark.parametrize("text", ["&|!", "'", "a:*", "((", "-", "\\", "😀"])
def test_search_survives_any_input(client, city_a, text):
    make_petition(city_a)
    assert client.get("/petitions/", {"q": text}).status_code == 200
