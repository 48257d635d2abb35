"""The identity key: who a signer or voter is, for counting them once, without the number.

key = HMAC-SHA256(IDENTITY_HMAC_KEY, "rnokpp:" + 10 digits) for the tax number (РНОКПП), or
HMAC-SHA256(IDENTITY_HMAC_KEY, "doc:<type>:<normalised number>") for people who have none.
Only the 64 hex digits of the key are stored; the secret lives in the environment, so the
database alone cannot be searched for a number (a 10-digit space is small: an unkeyed hash
would be reversible in minutes, a keyed one is not without the secret).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from opencity.core import Refused

# Tests and development only: production refuses to start without IDENTITY_HMAC_KEY.
DEVELOPMENT_SECRET = b"opencity-development-identity-key-not-for-production"

RNOKPP_WEIGHTS = (-1, 5, 7, 9, 4, 6, 10, 5, 7)


class DocumentType:
    RNOKPP = "rnokpp"
    # A person who refused the tax number for religious reasons carries a passport booklet
    # (2 Cyrillic letters + 6 digits) or an ID card (9 digits) instead.
    PASSPORT_BOOK = "passport_book"
    ID_CARD = "id_card"

    CHOICES = (
        (RNOKPP, _("tax number (РНОКПП)")),
        (PASSPORT_BOOK, _("passport booklet (series and number)")),
        (ID_CARD, _("ID card (9 digits)")),
    )


def _secret() -> bytes:
    configured = getattr(settings, "IDENTITY_HMAC_KEY", None)
    return base64.b64decode(configured) if configured else DEVELOPMENT_SECRET


def rnokpp_check_digit(first_nine: str) -> int:
    """The 10th digit of a РНОКПП from the first nine (weights −1 5 7 9 4 6 10 5 7, mod 11,
    mod 10)."""
    digits = first_nine[:9]
    total = sum(int(d) * w for d, w in zip(digits, RNOKPP_WEIGHTS, strict=True))
    return total % 11 % 10


def rnokpp_is_valid(number: str) -> bool:
    return bool(re.fullmatch(r"[0-9]{10}", number)) and rnokpp_check_digit(number[:9]) == int(
        number[9]
    )


# Latin letters that look like the Cyrillic ones of a passport series, as typed by mistake.
_LOOKALIKES = str.maketrans("ABCEHIKMOPTXY", "АВСЕНІКМОРТХУ")


def normalise(kind: str, number: str) -> str:
    """The canonical form of a document number, or Refused (code "identity_number",
    field "id_number") when it is not a valid one of that kind."""
    compact = re.sub(r"[\s\-–—]", "", number or "").upper()
    if kind == DocumentType.RNOKPP:
        if not rnokpp_is_valid(compact):
            raise Refused(
                _("This is not a valid tax number (РНОКПП): 10 digits with a check digit."),
                code="identity_number",
                field="id_number",
            )
        return compact
    if kind == DocumentType.PASSPORT_BOOK:
        compact = compact.translate(_LOOKALIKES)
        if not re.fullmatch(r"[А-ЩЬЮЯЄІЇҐ]{2}[0-9]{6}", compact):
            raise Refused(
                _("A passport booklet number is two letters and six digits (КА123456)."),
                code="identity_number",
                field="id_number",
            )
        return compact
    if kind == DocumentType.ID_CARD:
        if not re.fullmatch(r"[0-9]{9}", compact):
            raise Refused(
                _("An ID card number is nine digits."), code="identity_number", field="id_number"
            )
        return compact
    raise Refused(_("Choose the kind of document."), code="identity_kind", field="id_kind")


def identity_key(kind: str, number: str) -> str:
    """The key (64 hex digits) of a person by their document; Refused for an invalid number."""
    canonical = normalise(kind, number)
    message = f"rnokpp:{canonical}" if kind == DocumentType.RNOKPP else f"doc:{kind}:{canonical}"
    return hmac.new(_secret(), message.encode(), hashlib.sha256).hexdigest()
