// swift-tools-version: 6.0
// The product catalog back end: importer, FastCGI server, data generator.
// Layout: one module per part (see README "Code map"); executables are thin.
import PackageDescription

let package = Package(
    name: "products",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "products-import", targets: ["products-import"]),
        .executable(name: "products-server", targets: ["products-server"]),
        .executable(name: "products-datagen", targets: ["products-datagen"]),
        .executable(name: "products-load", targets: ["products-load"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // C libraries, found with pkg-config; apt names them for a fresh machine.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CFastCGI", pkgConfig: "fcgi", providers: [.apt(["libfcgi-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // The libc calls Swift cannot make or does not export (prctl is variadic; pipe2,
        // memfd_create need _GNU_SOURCE), sock_diag for the listen queue, and relaxed atomics
        // on the scoreboard's shared memory.
        .target(name: "CSystemShims"),

        // The system-call conventions, once: retry EINTR, -1 + errno into a thrown SyscallError.
        .target(name: "SystemCalls"),

        // Swift wrappers: nothing outside these two modules sees an OpaquePointer.
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "FastCGI", dependencies: ["CFastCGI"]),
        // gzip of the documents: once at import, and what the worker compresses itself.
        .target(name: "Gzip", dependencies: ["CZlib"]),

        // The importer's parts: the CSV dialect and its repairs, then loading and swapping.
        .target(name: "CatalogCSV", dependencies: ["SystemCalls"]),
        .target(name: "CatalogImport", dependencies: [
            "CatalogCSV", "Postgres", "SystemCalls", "Gzip",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "CatalogDatagen", dependencies: ["CatalogCSV", "SystemCalls"]),

        // The API: routing, validation, rendering. Pure values, no I/O.
        .target(name: "ProductsAPI"),
        // The prefork server: master (process control) and worker (request loop).
        .target(name: "ProductsServer", dependencies: [
            "ProductsAPI", "Postgres", "FastCGI", "CSystemShims", "SystemCalls", "Gzip",
            .product(name: "Logging", package: "swift-log"),
        ]),

        .executableTarget(name: "products-import", dependencies: [
            "CatalogImport",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "products-server", dependencies: [
            "ProductsServer",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "products-datagen", dependencies: [
            "CatalogDatagen",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // The open-loop load generator (benchmarks): schedules, id distributions, latency
        // histograms measured from the scheduled send time.
        .target(name: "LoadGenerator", dependencies: [
            "SystemCalls", "CSystemShims",
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        .executableTarget(name: "products-load", dependencies: [
            "LoadGenerator",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Shared by the integration and end-to-end tests: a throwaway PostgreSQL
        // cluster, and helpers to run the built executables.
        .target(name: "TestSupport", dependencies: ["Postgres", "CSystemShims", "SystemCalls"], path: "Tests/TestSupport",
                resources: [.copy("Fixtures")]),

        // Unit tests: no database, no sockets.
        .testTarget(name: "CatalogCSVTests", dependencies: ["CatalogCSV"]),
        .testTarget(name: "ProductsAPITests", dependencies: ["ProductsAPI"]),
        .testTarget(name: "ProductsServerTests", dependencies: ["ProductsServer", "SystemCalls", "CSystemShims"]),
        .testTarget(name: "LoadGeneratorTests", dependencies: ["LoadGenerator"]),
        .testTarget(name: "GzipTests", dependencies: ["Gzip"]),
        // Integration tests: real processes and sockets (the master spawning workers, the
        // listening socket), ...
        .testTarget(name: "ProductsServerProcessTests", dependencies: ["ProductsServer", "SystemCalls", "TestSupport"]),
        // ... libfcgi through the FastCGI wrapper, over a socketpair ...
        .testTarget(name: "FastCGITests", dependencies: ["FastCGI", "TestSupport"]),
        // ... a real PostgreSQL, started by the tests.
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "CatalogImportTests", dependencies: [
            "CatalogImport", "CatalogDatagen", "Postgres", "TestSupport", "Gzip",
        ]),
        // End-to-end: real nginx, real products-server workers, real PostgreSQL.
        .testTarget(name: "EndToEndTests", dependencies: [
            "CatalogImport", "Postgres", "TestSupport", "Gzip",
        ]),
    ],
    swiftLanguageModes: [.v6]
)
