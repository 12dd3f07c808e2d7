-- Point the API's view at one design (run as products_owner, the view's owner: the view runs
-- with its owner's rights, so products_api needs no grant on the design schemas).
-- psql -v design=design_a
BEGIN;
CREATE OR REPLACE VIEW catalog.product AS
  SELECT id, rank, list_doc, product_doc, styles_doc, related_doc FROM :"design".product_view;
GRANT USAGE ON SCHEMA catalog TO products_api;
GRANT SELECT ON catalog.product TO products_api;
COMMIT;
