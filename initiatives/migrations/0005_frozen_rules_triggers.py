"""Frozen rules in the database (PostgreSQL; the demo's SQLite relies on the admin and the
services). Once a programme's FrozenRules row exists:

- the row itself cannot be updated or deleted;
- the programme's rule columns (FROZEN_PROGRAMME_FIELDS) cannot change;
- its categories cannot be added, removed, moved or have their budgets changed.

The error is an integrity violation (SQLSTATE 23000), which Django raises as IntegrityError.
"""

from django.db import migrations

_SQL = """
CREATE FUNCTION initiatives_frozenrules_readonly() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'frozen rules of programme % are read-only', OLD.programme_id
        USING ERRCODE = 'integrity_constraint_violation';
END $$ LANGUAGE plpgsql;

CREATE TRIGGER frozenrules_readonly BEFORE UPDATE OR DELETE ON initiatives_frozenrules
    FOR EACH ROW EXECUTE FUNCTION initiatives_frozenrules_readonly();

CREATE FUNCTION initiatives_programme_rules_frozen() RETURNS trigger AS $$
BEGIN
    IF (OLD.total_budget, OLD.max_votes, OLD.one_per_category, OLD.min_voter_age,
        OLD.residents_only, OLD.votes_changeable, OLD.winner_rule, OLD.live_counts,
        OLD.verified_eligibility)
       IS DISTINCT FROM
       (NEW.total_budget, NEW.max_votes, NEW.one_per_category, NEW.min_voter_age,
        NEW.residents_only, NEW.votes_changeable, NEW.winner_rule, NEW.live_counts,
        NEW.verified_eligibility)
       AND EXISTS (SELECT 1 FROM initiatives_frozenrules WHERE programme_id = OLD.id) THEN
        RAISE EXCEPTION 'the rules of programme % are frozen', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER programme_rules_frozen BEFORE UPDATE ON initiatives_programme
    FOR EACH ROW EXECUTE FUNCTION initiatives_programme_rules_frozen();

CREATE FUNCTION initiatives_category_budget_frozen() RETURNS trigger AS $$
DECLARE
    frozen boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND (OLD.programme_id, OLD.budget, OLD.max_project_cost)
       IS NOT DISTINCT FROM (NEW.programme_id, NEW.budget, NEW.max_project_cost) THEN
        RETURN NEW;  -- a new name or order changes no rule
    END IF;
    -- Wait for a freeze in progress (it holds the programme row), then look.
    PERFORM 1 FROM initiatives_programme
        WHERE id IN (CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.programme_id END,
                     CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.programme_id END)
        FOR SHARE;
    SELECT EXISTS (SELECT 1 FROM initiatives_frozenrules
                   WHERE programme_id IN (
                       CASE WHEN TG_OP = 'INSERT' THEN NULL ELSE OLD.programme_id END,
                       CASE WHEN TG_OP = 'DELETE' THEN NULL ELSE NEW.programme_id END))
        INTO frozen;
    IF frozen THEN
        RAISE EXCEPTION 'the category budgets of this programme are frozen'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER category_budget_frozen BEFORE INSERT OR UPDATE OR DELETE ON initiatives_category
    FOR EACH ROW EXECUTE FUNCTION initiatives_category_budget_frozen();
"""

_DROP = """
DROP TRIGGER category_budget_frozen ON initiatives_category;
DROP FUNCTION initiatives_category_budget_frozen();
DROP TRIGGER programme_rules_frozen ON initiatives_programme;
DROP FUNCTION initiatives_programme_rules_frozen();
DROP TRIGGER frozenrules_readonly ON initiatives_frozenrules;
DROP FUNCTION initiatives_frozenrules_readonly();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_SQL, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("initiatives", "0004_frozen_rules_ballot_receipt")]

    operations = [migrations.RunPython(create, drop)]
