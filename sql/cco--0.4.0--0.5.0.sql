-- Updates cco 0.4.0 to 0.5.0 in place: ALTER EXTENSION cco UPDATE.
--
-- Every change to the schema files since 0.4.0 (frozen in releases/cco--0.4.0.sql) is repeated
-- here, so an updated database ends up exactly as a fresh install of 0.5.0; the client test
-- tests/client/test_upgrade.py compares the two object by object.

\echo Use "ALTER EXTENSION cco UPDATE" to load this file. \quit
