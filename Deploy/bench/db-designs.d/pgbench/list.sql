-- GET /products?page=P&count=5, P uniform over all pages
\set page random(1, (:maxid + 4) / 5)
\set lo (:page - 1) * 5 + 1
\set hi :page * 5
SELECT list_doc FROM catalog.product WHERE rank BETWEEN :lo::int4 AND :hi::int4 ORDER BY rank;
