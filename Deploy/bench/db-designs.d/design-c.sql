-- Design C: B's documents stored as jsonb (the binary form PostgreSQL can query into), one row
-- per product. The server reads text, so the view casts jsonb -> text: PostgreSQL
-- re-serializes each document on every request (what a jsonb column costs on output).
-- Key order in objects becomes jsonb's (shorter keys first), whitespace ", " and ": ": both
-- outside the contract (docs/api.md); the comparison with B is done on parsed JSON.
-- Built from B's table (the rendering is B's); its build time is B's plus this file's.
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET statement_timeout = 0;
SET jit = off;

DROP SCHEMA IF EXISTS design_c CASCADE;
CREATE SCHEMA design_c;
CREATE TABLE design_c.product (
  id          integer PRIMARY KEY,
  rank        integer NOT NULL,
  list_doc    jsonb NOT NULL,
  product_doc jsonb NOT NULL,
  styles_doc  jsonb NOT NULL,
  related_doc jsonb NOT NULL
);
INSERT INTO design_c.product
  SELECT id, rank, list_doc::jsonb, product_doc::jsonb, styles_doc::jsonb, related_doc::jsonb
  FROM :"staging".product ORDER BY id;
CREATE UNIQUE INDEX ON design_c.product (rank);
VACUUM ANALYZE design_c.product;
CREATE VIEW design_c.product_view AS
  SELECT id, rank, list_doc::text AS list_doc, product_doc::text AS product_doc,
         styles_doc::text AS styles_doc, related_doc::text AS related_doc
  FROM design_c.product;
