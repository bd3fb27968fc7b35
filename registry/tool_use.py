"""The portfolio's use of each tool, kept by PostgreSQL as adoptions change.

``registry_tooluse`` holds one row per (tool, declared capability) of the active
adoptions: how many factories use the tool so, the declared annual costs and the seats
of the adoptions that declare seats but no cost. It is what a scoped detection run
counts for every tool offering a capability it touched (``detection_load._counts``):
a one-factory import touches capabilities that thousands of tools offer, and counting
their eighty thousand adoptions took most of such a run.

Statement-level triggers on ``registry_adoption`` recount the rows of the tools a
statement touched, in the same transaction, whatever wrote it: the ORM, ``COPY``, raw
SQL, cascades; ``TRUNCATE`` empties it. Recounts take one transaction-level advisory
lock, so a recount reads the adoptions after any other writer's recount committed and
never writes counts older than another's. (Adoption writers already take turns on the
registry's data generation, ``coe.generations``.)

SQLite has no such triggers: detection counts the adoptions there, as before.
"""

from __future__ import annotations

TABLE = "registry_tooluse"
LOCK = 0x434F_4555  # one recount at a time

_COUNT = (
    "SELECT tool_id, declared_capability, COUNT(DISTINCT factory_id), SUM(annual_cost), "
    "SUM(seats) FILTER (WHERE annual_cost IS NULL AND seats > 0) FROM registry_adoption "
    "WHERE status = 'active' AND tool_id IS NOT NULL{where} GROUP BY tool_id, declared_capability"
)

# The columns a row's count depends on.
_COUNTED = (
    "{r}.tool_id, {r}.status, {r}.declared_capability, {r}.factory_id, {r}.annual_cost, {r}.seats"
)

INSTALL = [
    f"CREATE TABLE {TABLE} (tool_id bigint NOT NULL, declared_capability varchar(120) NOT NULL, "
    "factories integer NOT NULL, cost numeric(20, 2), seats bigint, "
    "PRIMARY KEY (tool_id, declared_capability)) WITH (fillfactor = 85)",
    # Recount the rows of ``touched`` tools from the adoptions as they are now.
    f"""CREATE FUNCTION registry_tooluse_recount(touched bigint[]) RETURNS void
    LANGUAGE plpgsql AS $$
    BEGIN
        IF cardinality(touched) = 0 THEN
            RETURN;
        END IF;
        PERFORM pg_advisory_xact_lock({LOCK});
        INSERT INTO {TABLE} (tool_id, declared_capability, factories, cost, seats)
        {_COUNT.format(where=" AND tool_id = ANY(touched)")}
        ON CONFLICT (tool_id, declared_capability) DO UPDATE SET
            factories = EXCLUDED.factories, cost = EXCLUDED.cost, seats = EXCLUDED.seats;
        DELETE FROM {TABLE} u WHERE u.tool_id = ANY(touched) AND NOT EXISTS (
            SELECT 1 FROM registry_adoption a WHERE a.status = 'active'
            AND a.tool_id = u.tool_id AND a.declared_capability = u.declared_capability);
    END $$""",
    """CREATE FUNCTION registry_tooluse_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM registry_tooluse_recount(ARRAY(
            SELECT DISTINCT tool_id FROM new_rows WHERE tool_id IS NOT NULL));
        RETURN NULL;
    END $$""",
    """CREATE FUNCTION registry_tooluse_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM registry_tooluse_recount(ARRAY(
            SELECT DISTINCT tool_id FROM old_rows WHERE tool_id IS NOT NULL));
        RETURN NULL;
    END $$""",
    # An update recounts only the tools of rows whose counted columns changed (an import
    # touching ``last_seen`` recounts nothing).
    f"""CREATE FUNCTION registry_tooluse_updated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM registry_tooluse_recount(ARRAY(
            SELECT DISTINCT t FROM new_rows n JOIN old_rows o ON o.id = n.id,
            LATERAL (VALUES (n.tool_id), (o.tool_id)) AS v (t)
            WHERE t IS NOT NULL AND ({_COUNTED.format(r="n")}) IS DISTINCT FROM
            ({_COUNTED.format(r="o")})));
        RETURN NULL;
    END $$""",
    f"""CREATE FUNCTION registry_tooluse_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        TRUNCATE {TABLE};
        RETURN NULL;
    END $$""",
    "CREATE TRIGGER registry_adoption_tooluse_insert AFTER INSERT ON registry_adoption "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION registry_tooluse_inserted()",
    "CREATE TRIGGER registry_adoption_tooluse_delete AFTER DELETE ON registry_adoption "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION registry_tooluse_deleted()",
    "CREATE TRIGGER registry_adoption_tooluse_update AFTER UPDATE ON registry_adoption "
    "REFERENCING NEW TABLE AS new_rows OLD TABLE AS old_rows FOR EACH STATEMENT "
    "EXECUTE FUNCTION registry_tooluse_updated()",
    "CREATE TRIGGER registry_adoption_tooluse_truncate AFTER TRUNCATE ON registry_adoption "
    "FOR EACH STATEMENT EXECUTE FUNCTION registry_tooluse_truncated()",
    # What the adoptions hold when it is installed.
    f"INSERT INTO {TABLE} (tool_id, declared_capability, factories, cost, seats) "
    + _COUNT.format(where=""),
]

REMOVE = [
    *(
        f"DROP TRIGGER IF EXISTS registry_adoption_tooluse_{event} ON registry_adoption"
        for event in ("insert", "delete", "update", "truncate")
    ),
    *(
        f"DROP FUNCTION IF EXISTS registry_tooluse_{name}()"
        for name in ("inserted", "deleted", "updated", "truncated")
    ),
    "DROP FUNCTION IF EXISTS registry_tooluse_recount(bigint[])",
    f"DROP TABLE IF EXISTS {TABLE}",
]


def counted_sql() -> str:
    """What a scoped run reads instead of counting the adoptions: (tool, declared
    capability, factories, annual cost, the tool's ring) of the tools offering any of the
    capabilities in one array parameter; the cost as ``effective_cost`` adds it up: the
    declared costs, and the seats of the others priced by the tool."""
    return (
        "SELECT u.tool_id, u.declared_capability, u.factories, COALESCE(u.cost, 0) + "
        f"COALESCE(u.seats * t.annual_cost_per_seat, 0), t.ring FROM {TABLE} u "
        "JOIN registry_tool t ON t.id = u.tool_id WHERE u.tool_id IN "
        "(SELECT tool_id FROM registry_tool_capabilities WHERE capability_id = ANY(%s::bigint[]))"
    )


def recount_sql() -> str:
    """The same rows counted from the adoptions (tests compare the two)."""
    return _COUNT.format(where="")


def _run(schema_editor, statements) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)


def install(apps, schema_editor) -> None:
    _run(schema_editor, INSTALL)


def remove(apps, schema_editor) -> None:
    _run(schema_editor, REMOVE)
