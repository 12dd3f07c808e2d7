-- Design D: B with the documents stored uncompressed (STORAGE EXTERNAL: out of line in the
-- TOAST table when the row exceeds ~2 kB, but never compressed). Isolates what lz4
-- decompression of B's styles_doc costs per request, against the extra bytes read.
-- Built from B's table; `|| ''` forces a fresh, uncompressed value (INSERT ... SELECT would
-- otherwise copy B's compressed datum as it is).
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET statement_timeout = 0;
SET jit = off;

DROP SCHEMA IF EXISTS design_d CASCADE;
CREATE SCHEMA design_d;
CREATE TABLE design_d.product (
  id          integer PRIMARY KEY,
  rank        integer NOT NULL,
  list_doc    text NOT NULL,
  product_doc text NOT NULL,
  styles_doc  text NOT NULL,
  related_doc text NOT NULL
);
-- (PostgreSQL 15 has no STORAGE clause in CREATE TABLE)
ALTER TABLE design_d.product
  ALTER COLUMN list_doc SET STORAGE EXTERNAL, ALTER COLUMN product_doc SET STORAGE EXTERNAL,
  ALTER COLUMN styles_doc SET STORAGE EXTERNAL, ALTER COLUMN related_doc SET STORAGE EXTERNAL;
INSERT INTO design_d.product
  SELECT id, rank, list_doc || '', product_doc || '', styles_doc || '', related_doc || ''
  FROM :"staging".product ORDER BY id;
CREATE UNIQUE INDEX ON design_d.product (rank);
VACUUM ANALYZE design_d.product;
CREATE VIEW design_d.product_view AS
  SELECT id, rank, list_doc, product_doc, styles_doc, related_doc FROM design_d.product;
