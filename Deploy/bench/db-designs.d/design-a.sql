-- Design A: normalized tables, JSON aggregated at query time.
--
-- The tables are derived from B's documents (:"staging".product, built by products-import): the
-- importer no longer stages normalized rows (since 9543138 it stages pre-rendered JSON pieces),
-- and the documents hold every fact the API serves, already cleaned (no orphans, the related
-- rules applied, rejects gone). Ids that the documents do not carry (feature, photo, related row
-- ids) are the 1-based position within the parent: they order the rows as the real ids did,
-- unique per parent (an index on (parent, id) has the same shape and size as with real ids).
-- A style whose photos are the placeholder, or whose skus are the {"null": ...} placeholder,
-- gets no rows (the view renders the placeholder back). Rows arrive in product-id order, so
-- each table is physically clustered by its parent, as an ordered load would write it.
-- Then the indexes the four routes need, and VACUUM ANALYZE (visibility map, statistics).
-- No child-table primary or foreign keys: no route uses them.
--
-- design_a.product_view computes the four documents with correlated subqueries in the
-- target list; PostgreSQL flattens the view, so a query selecting only styles_doc evaluates
-- only the styles subqueries (EXPLAIN VERBOSE in docs/plans/a/).
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET statement_timeout = 0;
SET jit = off;

DROP SCHEMA IF EXISTS design_a CASCADE;
CREATE SCHEMA design_a;

CREATE TABLE design_a.product AS
  SELECT b.id, b.rank, d->>'name' AS name, d->>'slogan' AS slogan,
         d->>'description' AS description, d->>'category' AS category,
         (d->>'default_price')::numeric AS default_price
  FROM :"staging".product b, LATERAL (SELECT b.list_doc::jsonb AS d) x;
ALTER TABLE design_a.product ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON design_a.product (rank);

CREATE TABLE design_a.features AS
  SELECT f.ord::integer AS id, b.id AS product_id, f.e->>'feature' AS feature, f.e->>'value' AS value
  FROM :"staging".product b, jsonb_array_elements(b.product_doc::jsonb->'features') WITH ORDINALITY f(e, ord);
CREATE INDEX ON design_a.features (product_id, id);

CREATE TABLE design_a.related AS
  SELECT r.ord::integer AS id, b.id AS current_product_id, (r.e::text)::integer AS related_product_id
  FROM :"staging".product b, jsonb_array_elements(b.related_doc::jsonb) WITH ORDINALITY r(e, ord);
CREATE INDEX ON design_a.related (current_product_id, id);

-- each style's JSON once, parsed (jsonb: the -> below do not re-parse; scratch, dropped below)
CREATE UNLOGGED TABLE design_a.style_src AS
  SELECT b.id AS product_id, s AS doc
  FROM :"staging".product b, jsonb_array_elements(b.styles_doc::jsonb->'results') s;

CREATE TABLE design_a.styles AS
  SELECT (doc->>'style_id')::integer AS id, product_id, doc->>'name' AS name,
         (doc->>'sale_price')::numeric AS sale_price, (doc->>'original_price')::numeric AS original_price,
         (doc->>'default?')::boolean AS default_style
  FROM design_a.style_src;
CREATE INDEX ON design_a.styles (product_id, id);

CREATE TABLE design_a.skus AS
  SELECT k.key::integer AS id, (ss.doc->>'style_id')::integer AS style_id,
         k.value->>'size' AS size, (k.value->>'quantity')::bigint AS quantity
  FROM design_a.style_src ss, jsonb_each(ss.doc->'skus') k
  WHERE k.key <> 'null';
CREATE INDEX ON design_a.skus (style_id, id);

CREATE TABLE design_a.photos AS
  SELECT p.ord::integer AS id, (ss.doc->>'style_id')::integer AS style_id,
         p.e->>'url' AS url, p.e->>'thumbnail_url' AS thumbnail_url
  FROM design_a.style_src ss, jsonb_array_elements(ss.doc->'photos') WITH ORDINALITY p(e, ord)
  WHERE NOT (jsonb_array_length(ss.doc->'photos') = 1
             AND p.e->>'url' IS NULL AND p.e->>'thumbnail_url' IS NULL);
CREATE INDEX ON design_a.photos (style_id, id);

DROP TABLE design_a.style_src;
VACUUM ANALYZE design_a.product, design_a.features, design_a.styles, design_a.skus,
               design_a.photos, design_a.related;

-- The same documents as the importer renders (Sources/CatalogImport/CatalogSQL.swift),
-- computed per request. Prices: round(x, 2)::text ("140.00"); placeholders for a style
-- without photos or skus; [] for no features / styles / related.
CREATE VIEW design_a.product_view AS
SELECT p.id, p.rank,
  json_build_object('id', p.id, 'name', p.name, 'slogan', p.slogan,
    'description', p.description, 'category', p.category,
    'default_price', round(p.default_price, 2)::text)::text AS list_doc,
  json_build_object('id', p.id, 'name', p.name, 'slogan', p.slogan,
    'description', p.description, 'category', p.category,
    'default_price', round(p.default_price, 2)::text,
    'features', coalesce(
      (SELECT json_agg(json_build_object('feature', f.feature, 'value', f.value) ORDER BY f.id)
       FROM design_a.features f WHERE f.product_id = p.id),
      '[]'::json))::text AS product_doc,
  json_build_object('product_id', p.id::text, 'results', coalesce(
    (SELECT json_agg(json_build_object(
        'style_id', s.id,
        'name', s.name,
        'original_price', round(s.original_price, 2)::text,
        'sale_price', round(s.sale_price, 2)::text,
        'default?', s.default_style,
        'photos', coalesce(
          (SELECT json_agg(json_build_object('thumbnail_url', ph.thumbnail_url, 'url', ph.url) ORDER BY ph.id)
           FROM design_a.photos ph WHERE ph.style_id = s.id),
          '[{"thumbnail_url": null, "url": null}]'::json),
        'skus', coalesce(
          (SELECT json_object_agg(k.id::text, json_build_object('quantity', k.quantity, 'size', k.size) ORDER BY k.id)
           FROM design_a.skus k WHERE k.style_id = s.id),
          '{"null": {"quantity": null, "size": null}}'::json)
      ) ORDER BY s.id)
     FROM design_a.styles s WHERE s.product_id = p.id),
    '[]'::json))::text AS styles_doc,
  coalesce(
    (SELECT json_agg(r.related_product_id ORDER BY r.id)
     FROM design_a.related r WHERE r.current_product_id = p.id),
    '[]'::json)::text AS related_doc
FROM design_a.product p;
