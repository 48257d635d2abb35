"""Each "me too" leaves a pending row for the public ledger in the same transaction (a
database trigger: the "me too" path itself is unchanged). See opencity/ledger/triggers.py."""

from django.db import migrations

from opencity.ledger.triggers import install, uninstall

TRIGGER = {
    "name": "problems_support_to_ledger",
    "table": "problems_support",
    "act": "'problem.support'",
    "source_id": "id",
    "subject": "'problems.report/' || report_id",
    "person_id": "user_id",
    "acted_at": "created_at",
}


class Migration(migrations.Migration):
    dependencies = [("problems", "0002_list_filter_indexes"), ("ledger", "0001_initial")]
    operations = [migrations.RunPython(install(TRIGGER), uninstall(TRIGGER))]
