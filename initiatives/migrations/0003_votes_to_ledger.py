"""Each budget vote leaves a pending row for the public ledger in the same transaction (a
database trigger: the voting statement itself is unchanged). See opencity/ledger/triggers.py."""

from django.db import migrations

from opencity.ledger.triggers import install, uninstall

TRIGGER = {
    "name": "initiatives_vote_to_ledger",
    "table": "initiatives_vote",
    "act": "'budget.vote'",
    "source_id": "id",
    "subject": "'initiatives.initiative/' || initiative_id",
    "person_id": "voter_id",
    "acted_at": "created_at",
}


class Migration(migrations.Migration):
    dependencies = [("initiatives", "0002_vote_composite_foreign_keys"), ("ledger", "0001_initial")]
    operations = [migrations.RunPython(install(TRIGGER), uninstall(TRIGGER))]
