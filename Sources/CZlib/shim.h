#include <zlib.h>

// deflateInit is a macro (it passes ZLIB_VERSION and sizeof(z_stream)); Swift cannot call macros.
static inline int kiln_deflate_init(z_streamp stream, int level) {
    return deflateInit(stream, level);
}
