-- GET /products/:id — the worker's statement (Sources/ProductsServer/Queries.swift); pgbench -D maxid=N
\set id random(1, :maxid)
SELECT product_doc FROM catalog.product WHERE id = :id::int4;
