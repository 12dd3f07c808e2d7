-- Design B: one row per product, every response pre-rendered as JSON text (what
-- products-import builds today: Sources/CatalogImport/CatalogSQL.swift). The table is the
-- importer's own, :"staging".product (text columns, default_toast_compression = lz4: a
-- styles_doc over ~2 kB is stored lz4-compressed, inline or in the TOAST table). This file only
-- gives it the same view shape as the other designs; its build time is the importer's
-- "aggregate" + "render documents, index, analyze" phases (import report).
DROP SCHEMA IF EXISTS design_b CASCADE;
CREATE SCHEMA design_b;
VACUUM ANALYZE :"staging".product;
CREATE VIEW design_b.product_view AS
  SELECT id, rank, list_doc, product_doc, styles_doc, related_doc FROM :"staging".product;
