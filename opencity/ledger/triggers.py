# ruff: noqa: S608 - the SQL is built from migration constants only, never from input.
"""SQL for the triggers that put acts into `ledger_pending`, for services' migrations.

A service's migration installs a trigger on its own table, so the act and its pending ledger
row commit together and the hot path runs no ledger code. `spec` maps the columns of
`ledger_pending` to SQL expressions over the inserted row:

    {"name": ..., "table": ..., "act": "'petition.signature'", "source_id": "id",
     "subject": "'petitions.petition/' || petition_id", "person_id": "user_id",
     "acted_at": "created_at"}

Keep this module's functions stable: migrations import them.
"""

from __future__ import annotations

COLUMNS = ("act", "source_id", "subject", "person_id", "acted_at")


def _qualified(expression: str, prefix: str) -> str:
    # Column names in the spec are bare; NULL and quoted literals are left as they are.
    out = []
    for token in expression.split(" "):
        if token.isidentifier() and token.upper() != "NULL":
            out.append(f"{prefix}{token}")
        else:
            out.append(token)
    return " ".join(out)


def postgresql_sql(spec: dict) -> list[str]:
    name, table = spec["name"], spec["table"]
    values = ", ".join(_qualified(spec[column], "n.") for column in COLUMNS)
    return [
        f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$
        BEGIN
          INSERT INTO ledger_pending ({", ".join(COLUMNS)})
          SELECT {values} FROM new_rows n ORDER BY n.id;
          RETURN NULL;
        END
        $$ LANGUAGE plpgsql
        """,
        f"DROP TRIGGER IF EXISTS {name} ON {table}",
        f"""
        CREATE TRIGGER {name} AFTER INSERT ON {table}
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION {name}()
        """,
    ]


def sqlite_sql(spec: dict) -> list[str]:
    name, table = spec["name"], spec["table"]
    values = ", ".join(_qualified(spec[column], "NEW.") for column in COLUMNS)
    return [
        f"DROP TRIGGER IF EXISTS {name}",
        f"""
        CREATE TRIGGER {name} AFTER INSERT ON {table}
        BEGIN
          INSERT INTO ledger_pending ({", ".join(COLUMNS)}) VALUES ({values});
        END
        """,
    ]


def drop_sql(spec: dict, vendor: str) -> list[str]:
    if vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {spec['name']} ON {spec['table']}",
            f"DROP FUNCTION IF EXISTS {spec['name']}()",
        ]
    return [f"DROP TRIGGER IF EXISTS {spec['name']}"]


def install(spec: dict):
    def forward(apps, schema_editor) -> None:
        vendor = schema_editor.connection.vendor
        statements = postgresql_sql(spec) if vendor == "postgresql" else sqlite_sql(spec)
        for statement in statements:
            schema_editor.execute(statement)

    return forward


def uninstall(spec: dict):
    def backward(apps, schema_editor) -> None:
        for statement in drop_sql(spec, schema_editor.connection.vendor):
            schema_editor.execute(statement)

    return backward
