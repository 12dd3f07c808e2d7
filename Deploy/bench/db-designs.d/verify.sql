-- Compare a design's four documents with B's (the importer's) for a sample of ids:
--   psql -v design=design_a -v sample=1000
-- The sample: :sample pseudo-random ids (md5 order, the same every run), the first and last
-- products, products with no features / no styles / no related ids, and the largest styles_doc.
-- Equal as parsed JSON (jsonb), and byte-identical text (C differs in text by design: jsonb
-- re-serializes); plus the rank, and the row counts.
\pset footer off
CREATE TEMP TABLE sample_ids AS
  (SELECT id FROM design_b.product_view ORDER BY md5(id::text) LIMIT :sample)
  UNION (SELECT min(id) FROM design_b.product_view)
  UNION (SELECT max(id) FROM design_b.product_view)
  UNION (SELECT id FROM design_b.product_view WHERE product_doc ~ '"features" ?: ?\[\]}$' ORDER BY id LIMIT 5)
  UNION (SELECT id FROM design_b.product_view WHERE styles_doc ~ '"results" ?: ?\[\]}$' ORDER BY id LIMIT 5)
  UNION (SELECT id FROM design_b.product_view WHERE related_doc = '[]' ORDER BY id LIMIT 5)
  UNION (SELECT id FROM design_b.product_view ORDER BY pg_column_size(styles_doc) DESC LIMIT 5);
SELECT :'design' AS design,
       count(*) AS ids,
       count(*) FILTER (WHERE x.id IS NULL) AS missing,
       count(*) FILTER (WHERE x.rank IS DISTINCT FROM b.rank) AS rank_diff,
       count(*) FILTER (WHERE x.list_doc::jsonb IS DISTINCT FROM b.list_doc::jsonb) AS list_diff,
       count(*) FILTER (WHERE x.product_doc::jsonb IS DISTINCT FROM b.product_doc::jsonb) AS product_diff,
       count(*) FILTER (WHERE x.styles_doc::jsonb IS DISTINCT FROM b.styles_doc::jsonb) AS styles_diff,
       count(*) FILTER (WHERE x.related_doc::jsonb IS DISTINCT FROM b.related_doc::jsonb) AS related_diff,
       count(*) FILTER (WHERE x.list_doc IS DISTINCT FROM b.list_doc OR x.product_doc IS DISTINCT FROM b.product_doc
                          OR x.styles_doc IS DISTINCT FROM b.styles_doc OR x.related_doc IS DISTINCT FROM b.related_doc) AS text_diff
FROM sample_ids s
JOIN design_b.product_view b USING (id)
LEFT JOIN :"design".product_view x USING (id);
SELECT :'design' AS design,
       (SELECT count(*) FROM :"design".product_view) AS rows,
       (SELECT count(*) FROM design_b.product_view) AS b_rows,
       (SELECT count(*) FROM :"design".product_view x FULL JOIN design_b.product_view b USING (id)
         WHERE x.id IS NULL OR b.id IS NULL) AS ids_not_in_both;
