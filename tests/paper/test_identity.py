"""The identity key: the РНОКПП check digit, document numbers, and an HMAC that the database
alone cannot reverse."""

import base64
import hashlib
import hmac

import pytest
from django.db import connection

from opencity.core import Refused
from opencity.identity import keys
from opencity.identity.keys import DocumentType, identity_key, rnokpp_is_valid
from opencity.identity.models import PersonKey
from opencity.identity.services import person_key_confirm
from tests.factories import make_user
from tests.paper.factories import enter, open_batch, rnokpp

pytestmark = pytest.mark.django_db


def test_check_digit_accepts_a_valid_number_and_refuses_one_typo():
    number = rnokpp(123456789)
    # weights −1 5 7 9 4 6 10 5 7 over 1..9: 295; 295 mod 11 = 9 → check digit 9
    assert number == "1234567899" and rnokpp_is_valid(number)
    for position in range(10):
        digit = (int(number[position]) + 1) % 10
        typo = number[:position] + str(digit) + number[position + 1 :]
        assert not rnokpp_is_valid(typo), typo


@pytest.mark.parametrize("bad", ["", "123456789", "12345678901", "12345678ab", "1234567891"])
def test_invalid_tax_numbers_are_refused_on_their_field(bad):
    with pytest.raises(Refused) as refused:
        identity_key(DocumentType.RNOKPP, bad)
    assert refused.value.code == "identity_number" and refused.value.field == "id_number"


def test_spaces_and_latin_lookalikes_give_the_same_key():
    assert identity_key(DocumentType.RNOKPP, "1234 5678 99") == identity_key(
        DocumentType.RNOKPP, "1234567899"
    )
    # "KA" typed in Latin letters is the Cyrillic series «КА»
    assert identity_key(DocumentType.PASSPORT_BOOK, "ka 123456") == identity_key(
        DocumentType.PASSPORT_BOOK, "КА123456"
    )
    assert identity_key(DocumentType.ID_CARD, "001234567") != identity_key(
        DocumentType.RNOKPP, "1234567899"
    )
    with pytest.raises(Refused):
        identity_key(DocumentType.PASSPORT_BOOK, "К1234567")
    with pytest.raises(Refused):
        identity_key(DocumentType.ID_CARD, "12345678")


def test_the_key_depends_on_the_secret(settings):
    number = rnokpp()
    development = identity_key(DocumentType.RNOKPP, number)
    settings.IDENTITY_HMAC_KEY = base64.b64encode(b"x" * 32).decode()
    production = identity_key(DocumentType.RNOKPP, number)
    assert development != production
    expected = hmac.new(b"x" * 32, f"rnokpp:{number}".encode(), hashlib.sha256).hexdigest()
    assert production == expected


def _all_text_in_database() -> str:
    """Every text column of the tables the paper channel and identity keys write."""
    chunks = []
    with connection.cursor() as cursor:
        for table in (
            "paper_batch",
            "paper_line",
            "identity_countedact",
            "identity_personkey",
            "core_auditentry",
            "ledger_pending",
            "ledger_entry",
        ):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - constant names
            for row in cursor.fetchall():
                chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


def test_the_number_is_never_stored_and_the_stored_key_is_not_an_unkeyed_hash(
    clerk_a, clerk_a2, petition
):
    number = rnokpp(987654321)
    batch = open_batch(clerk_a, petition=petition)
    line = enter(clerk_a, batch, number)
    citizen = make_user()
    other = rnokpp(555000111)
    person_key_confirm(user=citizen, kind=DocumentType.RNOKPP, number=other, source="clerk")
    from paper import services

    services.batch_confirm(clerk=clerk_a2, batch=batch)
    stored = _all_text_in_database()
    assert number not in stored and other not in stored
    # What someone with only the database could try: hash every candidate number without
    # the secret. None of those unkeyed digests (nor the number) is what is stored.
    candidates = {
        hashlib.sha256(number.encode()).hexdigest(),
        hashlib.sha256(f"rnokpp:{number}".encode()).hexdigest(),
        hmac.new(b"", f"rnokpp:{number}".encode(), hashlib.sha256).hexdigest(),
    }
    line.refresh_from_db()
    assert line.key not in candidates and len(line.key) == 64
    assert not candidates & set(stored.split())
    # The secret is in no table either.
    assert keys.DEVELOPMENT_SECRET.decode() not in stored


def test_an_identity_belongs_to_one_account():
    number = rnokpp()
    first, second = make_user(), make_user()
    person_key_confirm(user=first, kind=DocumentType.RNOKPP, number=number, source="clerk")
    # idempotent for the same person
    person_key_confirm(user=first, kind=DocumentType.RNOKPP, number=number, source="clerk")
    with pytest.raises(Refused) as taken:
        person_key_confirm(user=second, kind=DocumentType.RNOKPP, number=number, source="clerk")
    assert taken.value.code == "key_taken"
    with pytest.raises(Refused) as differs:
        person_key_confirm(user=first, kind=DocumentType.RNOKPP, number=rnokpp(), source="clerk")
    assert differs.value.code == "key_differs"
    assert PersonKey.objects.count() == 1
