"""Each signature leaves a pending row for the public ledger in the same transaction (a
database trigger: the signing path itself is unchanged). See opencity/ledger/triggers.py."""

from django.db import migrations

from opencity.ledger.triggers import install, uninstall

TRIGGER = {
    "name": "petitions_signature_to_ledger",
    "table": "petitions_signature",
    "act": "'petition.signature'",
    "source_id": "id",
    "subject": "'petitions.petition/' || petition_id",
    "person_id": "user_id",
    "acted_at": "created_at",
}


class Migration(migrations.Migration):
    dependencies = [("petitions", "0002_search_trigger"), ("ledger", "0001_initial")]
    operations = [migrations.RunPython(install(TRIGGER), uninstall(TRIGGER))]
