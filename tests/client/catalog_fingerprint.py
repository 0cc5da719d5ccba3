"""A textual fingerprint of everything an extension installs, for comparing two databases.

Two databases whose fingerprints are equal have the same cco: the same member objects, function
definitions, columns, constraints, indexes, triggers, policies, views, privileges, comments and
dump configuration. OIDs and object creation order do not matter; definitions do.
"""

from __future__ import annotations

import psycopg

# Each query yields (kind, identity, definition) rows for objects in the schema cco.
_QUERIES = {
    "member": """
        select pg_describe_object(d.classid, d.objid, 0), ''
        from pg_depend d join pg_extension e on e.oid = d.refobjid
        where d.refclassid = 'pg_extension'::regclass and e.extname = 'cco' and d.deptype = 'e'
    """,
    "function": """
        select p.oid::regprocedure::text,
               case when p.prokind = 'a' then
                   (select concat_ws(' ', a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn,
                                     a.aggdeserialfn, format_type(a.aggtranstype, null), a.agginitval)
                    from pg_aggregate a where a.aggfnoid = p.oid)
               else pg_get_functiondef(p.oid) end
               || ' acl=' || coalesce(p.proacl::text, 'default')
               || ' leakproof=' || p.proleakproof || ' parallel=' || p.proparallel::text
        from pg_proc p where p.pronamespace = 'cco'::regnamespace
    """,
    "relation": """
        select c.oid::regclass::text,
               concat_ws(' ', c.relkind::text, 'rls=' || c.relrowsecurity, 'force=' || c.relforcerowsecurity,
                         'options=' || coalesce(c.reloptions::text, ''), 'acl=' || coalesce(c.relacl::text, 'default'),
                         case when c.relkind in ('v', 'm') then pg_get_viewdef(c.oid) end)
        from pg_class c where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v', 'm', 'S', 'p')
    """,
    "column": """
        select c.oid::regclass::text || '.' || a.attname,
               concat_ws(' ', format_type(a.atttypid, a.atttypmod), 'notnull=' || a.attnotnull,
                         'generated=' || a.attgenerated::text, 'default=' || pg_get_expr(ad.adbin, ad.adrelid),
                         'position=' || a.attnum)
        from pg_attribute a
        join pg_class c on c.oid = a.attrelid
        left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
        where c.relnamespace = 'cco'::regnamespace and c.relkind in ('r', 'v', 'm')
          and a.attnum > 0 and not a.attisdropped
    """,
    "constraint": """
        select conrelid::regclass::text || ' ' || conname, pg_get_constraintdef(oid)
        from pg_constraint where connamespace = 'cco'::regnamespace
    """,
    "index": """
        select indexrelid::regclass::text, pg_get_indexdef(indexrelid)
        from pg_index i join pg_class c on c.oid = i.indrelid
        where c.relnamespace = 'cco'::regnamespace
    """,
    "trigger": """
        select tgrelid::regclass::text || ' ' || tgname, pg_get_triggerdef(t.oid) || ' enabled=' || tgenabled::text
        from pg_trigger t join pg_class c on c.oid = t.tgrelid
        where c.relnamespace = 'cco'::regnamespace and not t.tgisinternal
    """,
    "policy": """
        select tablename || ' ' || policyname,
               concat_ws(' ', permissive, roles::text, cmd, qual, with_check)
        from pg_policies where schemaname = 'cco'
    """,
    "type": """
        select t.oid::regtype::text, concat_ws(' ', t.typtype::text, t.typlen, t.typinput::text, t.typoutput::text)
        from pg_type t where t.typnamespace = 'cco'::regnamespace and t.typrelid = 0
    """,
    "operator": """
        select o.oid::regoperator::text, concat_ws(' ', o.oprcode::text, o.oprrest::text, o.oprjoin::text)
        from pg_operator o where o.oprnamespace = 'cco'::regnamespace
    """,
    "comment": """
        select pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
        from pg_description d
        where (d.classoid, d.objoid) in (
            select classid, objid from pg_depend
            where refclassid = 'pg_extension'::regclass
              and refobjid = (select oid from pg_extension where extname = 'cco') and deptype = 'e'
            union all
            select 'pg_class'::regclass, c.oid from pg_class c where c.relnamespace = 'cco'::regnamespace)
    """,
    "schema": """
        select nspname, concat_ws(' ', nspacl::text) from pg_namespace where nspname = 'cco'
    """,
    "dump configuration": """
        select c::regclass::text, coalesce(e.extcondition[i], '')
        from pg_extension e, unnest(e.extconfig) with ordinality as u(c, i)
        where e.extname = 'cco'
    """,
}


def fingerprint(connection: psycopg.Connection) -> set[tuple[str, str, str]]:
    rows: set[tuple[str, str, str]] = set()
    for kind, query in _QUERIES.items():
        for identity, definition in connection.execute(query):
            rows.add((kind, identity, definition or ""))
    return rows


def differences(left: set, right: set, limit: int = 20) -> str:
    """A readable account of what one fingerprint has that the other lacks."""
    only_left = sorted(left - right)[:limit]
    only_right = sorted(right - left)[:limit]
    lines = [f"- {row}" for row in only_left] + [f"+ {row}" for row in only_right]
    return "\n".join(lines)
