#include <zlib.h>

// deflateInit2/inflateInit2 are macros (they pass the library's version and z_stream size):
// functions Swift can call.
static inline int products_deflate_init(z_stream *s, int level) {
    // windowBits 15 + 16: a gzip wrapper (RFC 1952), not zlib's; memLevel 8 is zlib's default.
    return deflateInit2(s, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}
static inline int products_inflate_init(z_stream *s) {
    return inflateInit2(s, 15 + 16);
}
