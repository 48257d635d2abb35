"""The one place where a service's `Refused` becomes what a person sees.

- `refusal_to_form(form, exc)`: an error on the field it is about (else on the form), so the
  page is shown again with everything the person typed;
- `refusal_to_message(request, exc)`: an error message for the next page (POST-redirect-GET);
- `refusal_response(request, exc)`: a page with the message and a 4xx status;
- `RefusedMiddleware`: a refusal no view caught gets that page too, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from opencity.core.refusals import Refused

# Refusals that say the action conflicts with the object's current state (someone else
# changed it, it is already done): 409. Anything else is a request the rules do not allow.
CONFLICT_CODES = frozenset({"status", "changed", "published", "stale", "twice", "already"})


def refusal_status(exc: Refused) -> int:
    return 409 if exc.code in CONFLICT_CODES else 400


def refusal_to_form(
    form: forms.BaseForm, exc: Refused, fields: Mapping[str, str] | None = None
) -> None:
    """Show the refusal on its field: `exc.field`, else `fields[exc.code]`, else the form."""
    field = exc.field or (fields or {}).get(exc.code)
    form.add_error(field if field in form.fields else None, str(exc.message))


def refusal_to_message(request: HttpRequest, exc: Refused) -> None:
    messages.error(request, str(exc.message))


def refusal_response(request: HttpRequest, exc: Refused, status: int | None = None) -> HttpResponse:
    return render(
        request,
        "refused.html",
        {"refusal": exc, "message": str(exc.message)},
        status=status or refusal_status(exc),
    )


class RefusedMiddleware:
    """Answers a `Refused` that escaped a view with the refusal page (400 or 409)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, Refused):
            return refusal_response(request, exception)
        return None
