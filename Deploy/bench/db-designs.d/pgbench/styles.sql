-- GET /products/:id/styles
\set id random(1, :maxid)
SELECT styles_doc FROM catalog.product WHERE id = :id::int4;
