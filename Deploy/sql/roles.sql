-- The catalog's database roles. Idempotent; run as a superuser (psql -v ON_ERROR_STOP=1 -f).
-- Then, in each catalog database once it exists: Deploy/sql/database.sql (its privileges).
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

-- Session defaults, NOT limits. statement_timeout, idle_in_transaction_session_timeout and
-- default_transaction_read_only are USERSET parameters: any role may SET them in its own session
-- (`SET statement_timeout = 0` works as products_api), and PostgreSQL 15 has no way to forbid
-- it: GRANT/REVOKE SET ON PARAMETER (new in 15) only governs SUSET parameters, a
-- `REVOKE SET ON PARAMETER statement_timeout FROM PUBLIC` is accepted and changes nothing
-- (Tests/deploy/postgres-access.test shows both). Residual risk: whoever can run SQL of their
-- own as products_api (which takes code execution in a worker: the server only runs its four
-- prepared statements, with bound parameters) can run a query without a time limit or hold a
-- transaction open. What bounds that:
--   - read_only is not what keeps the catalog safe: the privileges are (SELECT only, no TEMP,
--     no CREATE anywhere, CONNECT to the catalog database only: database.sql);
--   - a held transaction blocks the importer's swap for at most its lock_timeout (5 s), and the
--     import then fails with the old catalog serving: no outage;
--   - a runaway query costs CPU/IO until stopped; on a host, a watchdog can end it, e.g. a
--     timer running as a superuser every few seconds:
--       SELECT pg_terminate_backend(pid) FROM pg_stat_activity
--       WHERE usename = 'products_api' AND state <> 'idle' AND now() - query_start > '10 s';
--     (PostgreSQL 17's transaction_timeout is USERSET too: no help.)
ALTER ROLE products_api SET statement_timeout = '2s';
ALTER ROLE products_api SET idle_in_transaction_session_timeout = '10s';
ALTER ROLE products_api SET default_transaction_read_only = on;
-- The importer's long statements (index builds over 27M rows) must not hit a timeout.
ALTER ROLE products_owner SET statement_timeout = 0;

-- The maintenance databases: every role may connect to them and create TEMP tables there by
-- default (PUBLIC holds CONNECT and TEMPORARY). Superusers keep their access (they bypass
-- privileges), so nothing of this project loses anything; on a cluster shared with other
-- applications, those roles lose it too: grant it back to them by name.
REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC;
