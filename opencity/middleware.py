"""Language selection: Ukrainian unless the person chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, so a phone set to English
(or Russian, falling back) would decide the language of a Ukrainian council's portal. Here
the order is: the language the person picked with the switcher (cookie), then the preferred
language on their profile, then Ukrainian. Only the portal's own languages (LANGUAGES) count:
Django's check_for_language also accepts any language Django itself is translated into, so a
cookie saying "de" would have made a German page header over Ukrainian text.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.functional import SimpleLazyObject, empty


def ours(language: str | None) -> bool:
    """One of the portal's languages (settings.LANGUAGES)."""
    return any(language == code for code, _name in settings.LANGUAGES)


class PortalLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if not ours(language):
            user = getattr(request, "user", None)
            language = getattr(user, "preferred_language", None) if user else None
            if not (user is not None and user.is_authenticated and ours(language)):
                language = settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        plain_user(request)


def plain_user(request) -> None:
    """Once the signed-in user is loaded, `request.user` becomes the user itself instead of
    AuthenticationMiddleware's lazy wrapper: through the wrapper every attribute read (a
    template reads dozens) costs a raised and caught AttributeError, some 7 % of a
    signed-in page's CPU. A user not loaded yet stays lazy (a request may never need it)."""
    user = getattr(request, "user", None)
    if isinstance(user, SimpleLazyObject) and user._wrapped is not empty:
        request.user = user._wrapped
