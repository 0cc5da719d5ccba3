"""Writes docs/schema.md from the installed schema's own documentation (its COMMENTs).

The reference is generated, not written by hand, so it cannot drift from the schema:
`test_docs.py` regenerates it and compares it with the committed file. To refresh it after a
schema change, run inside a cluster with cco installed:

    scripts/with-cluster.sh 15 sh -c 'psql -c "create extension cco cascade" && \
        target/client-tests-venv/bin/python tests/client/schema_reference.py > docs/schema.md'
"""

from __future__ import annotations

import sys

import psycopg

KINDS = {"r": "Table", "v": "View", "m": "Materialized view"}


def cell(text: str | None) -> str:
    """Text made safe for a markdown table cell."""
    return (text or "").replace("|", "\\|").replace("\n", " ")


def _table_section(connection, oid, name, kind, comment) -> list[str]:
    lines = [f"### `cco.{name}`", "", f"{KINDS[kind]}. {comment or ''}".rstrip(), "",
             "| column | type | description |", "| --- | --- | --- |"]
    for column, data_type, description in connection.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod), col_description(a.attrelid, a.attnum)
        from pg_attribute a
        where a.attrelid = %s and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        [oid],
    ):
        lines.append(f"| `{column}` | {data_type} | {cell(description)} |")
    constraints = connection.execute(
        # PostgreSQL 18 records NOT NULL as constraints too; the columns already say it.
        "select conname, pg_get_constraintdef(oid) from pg_constraint where conrelid = %s "
        "and contype <> 'n' order by contype, conname", [oid]
    ).fetchall()
    if constraints:
        lines += ["", "Constraints:", ""]
        lines += [f"- `{name}`: `{definition}`" for name, definition in constraints]
    indexes = connection.execute(
        "select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index i "
        "where indrelid = %s and not exists (select 1 from pg_constraint c where c.conindid = i.indexrelid) "
        "order by 1", [oid]
    ).fetchall()
    if indexes:
        lines += ["", "Indexes:", ""]
        lines += [f"- `{definition.replace('CREATE INDEX ', '').replace('CREATE UNIQUE INDEX ', 'unique ')}`"
                  for _, definition in indexes]
    return lines + [""]


def render(connection) -> str:
    version = connection.execute("select extversion from pg_extension where extname = 'cco'").fetchone()[0]
    lines = [
        "# Schema reference",
        "",
        f"Generated from the COMMENTs of cco {version} by `tests/client/schema_reference.py`;",
        "do not edit by hand. Everything lives in schema `cco`.",
        "",
        "## Tables and views",
        "",
    ]
    relations = connection.execute(
        "select c.oid, c.relname, c.relkind, obj_description(c.oid, 'pg_class') from pg_class c "
        "where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v', 'm') "
        "order by case c.relkind when 'r' then 0 when 'v' then 1 else 2 end, c.relname"
    ).fetchall()
    for oid, name, kind, comment in relations:
        lines += _table_section(connection, oid, name, kind, comment)

    lines += ["## Functions", "", "| function | returns | description |", "| --- | --- | --- |"]
    for signature, result, description in connection.execute(
        """
        select p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
               pg_get_function_result(p.oid), obj_description(p.oid, 'pg_proc')
        from pg_proc p
        where p.pronamespace = 'cco'::regnamespace
        order by p.proname, pg_get_function_identity_arguments(p.oid)
        """
    ):
        lines.append(f"| `{signature}` | {result} | {cell(description)} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    with psycopg.connect() as connection:
        sys.stdout.write(render(connection))


if __name__ == "__main__":
    main()
