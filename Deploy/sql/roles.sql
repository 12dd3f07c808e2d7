-- The catalog's database roles. Idempotent; run as a superuser (psql -v ON_ERROR_STOP=1 -f).
--
--   products_owner  owns the catalog schemas; the importer connects as it.
--   products_api    what products-server connects as: SELECT on the catalog views only,
--                   with timeouts so that a stuck query can never pin a worker.
--
-- Passwords are not set here: the local stack and the tests use unix-socket peer auth with a
-- map from OS users to these roles (Deploy/local/pgcluster);
-- Deploy/ sets passwords (or peer/cert auth) on real hosts.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'products_owner') THEN
    CREATE ROLE products_owner LOGIN;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'products_api') THEN
    CREATE ROLE products_api LOGIN;
  END IF;
END
$$;

ALTER ROLE products_api SET statement_timeout = '2s';
ALTER ROLE products_api SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE products_api SET default_transaction_read_only = on;
-- The importer's long statements (index builds over 27M rows) must not hit a timeout.
ALTER ROLE products_owner SET statement_timeout = 0;
