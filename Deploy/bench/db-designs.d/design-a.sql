-- Design A: normalized tables, JSON aggregated at query time.
--
-- Built from the importer's kept staging tables (products-import --keep-staging), schema
-- :"staging". The build does what a normalized importer would do once the rows are loaded:
-- orphans drop out (features/styles/related whose product is missing, skus/photos whose style
-- is missing), the related rules apply (no 0, no unknown product, no self, first of a repeated
-- pair by id), rows are written in (parent id, id) order, then the indexes the four routes
-- need, then ANALYZE + VACUUM (visibility map). No child-table primary keys or foreign keys:
-- no route uses them (the build step guarantees the integrity they would check).
--
-- design_a.product_view computes the four documents with correlated subqueries in the
-- target list; PostgreSQL flattens the view, so a query selecting only styles_doc evaluates
-- only the styles subqueries (checked with EXPLAIN VERBOSE, docs/plans/a/).
SET work_mem = '256MB';
SET maintenance_work_mem = '1GB';
SET statement_timeout = 0;
SET jit = off;

DROP SCHEMA IF EXISTS design_a CASCADE;
CREATE SCHEMA design_a;

CREATE TABLE design_a.product AS
  SELECT id, row_number() OVER (ORDER BY id)::integer AS rank,
         name, slogan, description, category, default_price
  FROM :"staging".raw_product ORDER BY id;
ALTER TABLE design_a.product ADD PRIMARY KEY (id);
CREATE UNIQUE INDEX ON design_a.product (rank);

CREATE TABLE design_a.features AS
  SELECT f.id, f.product_id, f.feature, f.value
  FROM :"staging".raw_features f
  WHERE EXISTS (SELECT 1 FROM design_a.product p WHERE p.id = f.product_id)
  ORDER BY f.product_id, f.id;
CREATE INDEX ON design_a.features (product_id, id);

CREATE TABLE design_a.styles AS
  SELECT s.id, s.product_id, s.name, s.sale_price, s.original_price,
         coalesce(s.default_style, false) AS default_style
  FROM :"staging".raw_styles s
  WHERE EXISTS (SELECT 1 FROM design_a.product p WHERE p.id = s.product_id)
  ORDER BY s.product_id, s.id;
CREATE INDEX ON design_a.styles (product_id, id);
-- skus and photos join on styles.id
CREATE UNIQUE INDEX ON design_a.styles (id);

CREATE TABLE design_a.skus AS
  SELECT k.id, k.style_id, k.size, k.quantity
  FROM :"staging".raw_skus k
  WHERE EXISTS (SELECT 1 FROM design_a.styles s WHERE s.id = k.style_id)
  ORDER BY k.style_id, k.id;
CREATE INDEX ON design_a.skus (style_id, id);

CREATE TABLE design_a.photos AS
  SELECT ph.id, ph.style_id, ph.url, ph.thumbnail_url
  FROM :"staging".raw_photos ph
  WHERE EXISTS (SELECT 1 FROM design_a.styles s WHERE s.id = ph.style_id)
  ORDER BY ph.style_id, ph.id;
CREATE INDEX ON design_a.photos (style_id, id);

CREATE TABLE design_a.related AS
  SELECT id, current_product_id, related_product_id FROM (
    SELECT DISTINCT ON (r.current_product_id, r.related_product_id)
           r.id, r.current_product_id, r.related_product_id
    FROM :"staging".raw_related r
    JOIN design_a.product cur ON cur.id = r.current_product_id
    JOIN design_a.product rel ON rel.id = r.related_product_id
    WHERE r.related_product_id <> r.current_product_id
    ORDER BY r.current_product_id, r.related_product_id, r.id
  ) kept
  ORDER BY current_product_id, id;
CREATE INDEX ON design_a.related (current_product_id, id);

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
