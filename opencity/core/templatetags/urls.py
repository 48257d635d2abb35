"""`{% url %}` with its answers remembered: a template builtin (settings.TEMPLATES), so it
replaces Django's tag in every template, same syntax and output.

Reversing a URL walks the resolver each time: on a signed-in petition page the seven `{% url %}`
tags cost about a tenth of the request's CPU. Here each answer is kept per process, keyed by
everything it depends on: the view name, the arguments (only strings and integers; any other
argument is reversed each time), the current application namespace, the active
language (i18n prefixes), the script prefix and the URLconf in use. URL patterns do not
change while a process runs; a test that swaps the URLconf changes the key.
"""

from __future__ import annotations

from functools import lru_cache

from django import template
from django.conf import settings
from django.template.defaulttags import URLNode
from django.template.defaulttags import url as django_url
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape
from django.utils.translation import get_language

register = template.Library()

_PLAIN = (str, int)


@lru_cache(maxsize=4096)
def _reversed(view_name, args, kwargs, current_app, language, prefix, urlconf) -> str:
    # The key's language, prefix and URLconf are this thread's own at the call.
    return reverse(view_name, args=args, kwargs=dict(kwargs), current_app=current_app)


def _current_app(context) -> str | None:
    request = getattr(context, "request", None)
    current_app = getattr(request, "current_app", None)
    if current_app is None:
        current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
    return current_app


class RememberedURLNode(URLNode):
    def render(self, context) -> str:
        args = tuple(arg.resolve(context) for arg in self.args)
        kwargs = tuple((key, value.resolve(context)) for key, value in self.kwargs.items())
        view_name = self.view_name.resolve(context)
        plain = isinstance(view_name, str) and all(
            isinstance(value, _PLAIN) for value in (*args, *(v for _, v in kwargs))
        )
        if not plain:
            return super().render(context)
        try:
            url = _reversed(
                view_name, args, kwargs, _current_app(context), get_language(),
                get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF,
            )  # fmt: skip
        except NoReverseMatch:
            if self.asvar is None:
                raise
            url = ""
        if self.asvar:
            context[self.asvar] = url
            return ""
        return conditional_escape(url) if context.autoescape else url


@register.tag
def url(parser, token) -> RememberedURLNode:
    node = django_url(parser, token)
    return RememberedURLNode(node.view_name, node.args, node.kwargs, node.asvar)
