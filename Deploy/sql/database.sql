-- The privileges of one catalog database. Idempotent; run as a superuser IN that database,
-- after Deploy/sql/roles.sql and CREATE DATABASE ... OWNER products_owner:
--   psql -v ON_ERROR_STOP=1 -d products -f Deploy/sql/database.sql
-- (The database's ACL is not copied from its template: every new database starts with PUBLIC
-- holding CONNECT and TEMPORARY, so this runs once per database, not once per cluster.)
--
-- products_owner owns the database (all privileges). products_api gets CONNECT only: no
-- TEMPORARY (temp tables would let it write), no CREATE (schemas). What it may read is granted
-- by the importer at each swap: USAGE on schema catalog, SELECT on the view catalog.product.
DO $$
BEGIN
  EXECUTE format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database());
  EXECUTE format('GRANT CONNECT ON DATABASE %I TO products_api', current_database());
END
$$;

-- PostgreSQL 15 no longer lets PUBLIC create in schema public (it is owned by
-- pg_database_owner, PUBLIC has USAGE only); stated for databases made from an older or
-- modified template.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
