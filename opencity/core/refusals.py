"""`Refused`: the one way a service says no.

Every service raises `Refused(message, code=...)` when a rule refuses an action; nothing was
changed when it is raised. `message` is translated and safe to show to the person; `code` is
a stable machine name (tests, API answers and views branch on it, never on the wording);
`field` optionally names the form field the refusal is about.

Views turn a refusal into what the person sees in one place, `opencity.core.web`:
`refusal_to_form()` (a form error that keeps what they typed), `refusal_to_message()` (a
flash message before a redirect) or `refusal_response()` (a 4xx page); a refusal that a
view does not catch is answered by `RefusedMiddleware` with that page.
"""

from __future__ import annotations

from django.utils.functional import Promise


class Refused(Exception):  # noqa: N818 - the name says what happened, like Http404
    """A rule refused the action; nothing was changed."""

    def __init__(self, message: str | Promise, *, code: str, field: str | None = None):
        super().__init__(str(message))
        self.message = message
        self.code = code
        self.field = field

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"Refused(code={self.code!r}, message={str(self.message)!r})"
