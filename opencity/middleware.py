"""Language selection: Ukrainian unless the person chose otherwise.

Django's LocaleMiddleware follows the browser's Accept-Language, so a phone set to English
(or Russian, falling back) would decide the language of a Ukrainian council's portal. Here
the order is: the language the person picked with the switcher (cookie), then the preferred
language on their profile, then Ukrainian.
"""

from django.conf import settings
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.utils.functional import SimpleLazyObject, empty
from django.utils.translation import check_for_language


class PortalLocaleMiddleware(LocaleMiddleware):
    def process_request(self, request):
        language = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        if not (language and check_for_language(language)):
            user = getattr(request, "user", None)
            language = getattr(user, "preferred_language", None) if user else None
            if not (language and user.is_authenticated and check_for_language(language)):
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
