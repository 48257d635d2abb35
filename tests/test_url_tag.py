"""{% url %} remembering its answers (opencity/core/templatetags/urls.py): the same URLs as
Django's tag, in every template, whatever the URLconf."""

import pytest
from django.template import Context, Template
from django.test import override_settings
from django.urls import NoReverseMatch, reverse

from opencity.core.templatetags.urls import RememberedURLNode, _reversed


def render(source: str, **values) -> str:
    return Template(source).render(Context(values))


def test_every_template_gets_the_remembering_tag_without_loading_it():
    template = Template("{% url 'profile' %}")
    assert [type(node) for node in template.nodelist] == [RememberedURLNode]


def test_the_urls_are_djangos_and_a_repeat_is_remembered():
    _reversed.cache_clear()
    assert render("{% url 'petitions:detail' 5 %}") == reverse("petitions:detail", args=[5])
    assert render("{% url 'petitions:detail' pk=pk %}", pk=6) == "/petitions/6/"
    assert render("{% url 'petitions:detail' pk %}", pk=5) == "/petitions/5/"
    assert _reversed.cache_info().hits == 1  # the third is the first one again
    assert render("{% url 'profile' as p %}<{{ p }}>") == f"<{reverse('profile')}>"


def test_a_name_that_does_not_reverse_fails_as_in_django():
    assert render("{% url 'no-such-page' as missing %}[{{ missing }}]") == "[]"
    with pytest.raises(NoReverseMatch):
        render("{% url 'no-such-page' %}")
    with pytest.raises(NoReverseMatch):
        render("{% url 'petitions:detail' 'not-a-number' %}")


def test_an_argument_that_is_not_a_string_or_number_is_reversed_each_time():
    class Changing:
        value = "7"

        def __str__(self) -> str:
            return self.value

    argument = Changing()
    assert render("{% url 'petitions:detail' a %}", a=argument) == "/petitions/7/"
    argument.value = "8"
    assert render("{% url 'petitions:detail' a %}", a=argument) == "/petitions/8/"


def test_another_urlconf_is_not_answered_from_memory():
    assert render("{% url 'profile' %}") == "/accounts/profile/"
    with override_settings(ROOT_URLCONF="tests.url_tag_urls"):
        assert render("{% url 'profile' %}") == "/elsewhere/profile/"
    assert render("{% url 'profile' %}") == "/accounts/profile/"


@override_settings(ROOT_URLCONF="tests.url_tag_urls")
def test_the_current_application_instance_is_part_of_the_answer(rf):
    """An application mounted twice: the instance the request is in (or names) decides, as
    in Django; one instance's answer is never given for the other."""
    from django.template import RequestContext
    from django.urls import resolve

    template = Template("{% url 'mounted:page' %}")
    for instance in ("b", "a", "b"):
        request = rf.get(f"/{instance}/page/")
        request.resolver_match = resolve(f"/{instance}/page/")
        assert template.render(RequestContext(request)) == f"/{instance}/page/"
        named = rf.get("/")
        named.current_app = instance
        assert template.render(RequestContext(named)) == f"/{instance}/page/"


@override_settings(ROOT_URLCONF="tests.url_tag_urls")
def test_a_url_is_escaped_as_djangos_is_and_the_name_may_be_a_variable():
    """reverse() leaves & and ' in a path; the tag escapes them unless autoescape is off."""
    assert render("{% url 'echo' 'a&b' %}") == "/echo/a&amp;b/"
    assert render("{% autoescape off %}{% url 'echo' 'a&b' %}{% endautoescape %}") == "/echo/a&b/"
    assert render("{% url 'echo' 'a&b' as u %}{{ u }}") == "/echo/a&amp;b/"
    assert render("{% url name 'x' %}", name="echo") == "/echo/x/"


@override_settings(ROOT_URLCONF="tests.url_tag_i18n_urls")
def test_a_language_prefixed_url_is_remembered_per_language():
    from django.utils import translation

    for language in ("uk", "en", "uk"):
        with translation.override(language):
            assert render("{% url 'page' %}") == f"/{language}/page/"


def test_a_script_prefix_is_part_of_the_answer():
    from django.urls import get_script_prefix, set_script_prefix

    before = get_script_prefix()
    try:
        for prefix in ("/", "/portal/", "/"):
            set_script_prefix(prefix)
            assert render("{% url 'profile' %}") == f"{prefix}accounts/profile/"
    finally:
        set_script_prefix(before)
