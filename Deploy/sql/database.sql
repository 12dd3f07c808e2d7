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

-- The catalog's generation (products-server puts it in every ETag): a catalog swapped in by an
-- importer older than this column gets it here, so that a new products-server can serve it
-- until the next import. The same definition as the importer's swap (CatalogSQL.swap): the
-- live schema catalog_import_<stamp>, generation = <stamp>. No-op when there is no catalog
-- yet or the column is there.
DO $$
DECLARE
  live text;
BEGIN
  -- to_regclass, not ::regclass: a cast of a constant is folded when the statement is
  -- planned, and fails on a database with no schema catalog yet.
  IF to_regclass('catalog.product') IS NULL OR to_regclass('catalog.import_history') IS NULL THEN
    RETURN;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_attribute
             WHERE attrelid = to_regclass('catalog.product') AND attname = 'generation'
               AND NOT attisdropped) THEN
    RETURN;
  END IF;
  SELECT schema_name INTO live FROM catalog.import_history ORDER BY id DESC LIMIT 1;
  IF live IS NULL THEN RETURN; END IF;
  EXECUTE format('CREATE OR REPLACE VIEW catalog.product AS
                    SELECT id, rank, list_doc, product_doc, styles_doc, related_doc, %L::text AS generation
                    FROM %I.product',
                 regexp_replace(live, '^catalog_import_', ''), live);
  RAISE NOTICE 'catalog.product: added the generation column (%)', live;
END
$$;
