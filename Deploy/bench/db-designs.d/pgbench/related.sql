-- GET /products/:id/related
\set id random(1, :maxid)
SELECT related_doc FROM catalog.product WHERE id = :id::int4;
