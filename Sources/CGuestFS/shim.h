#include <guestfs.h>

// guestfs_create_flags is variadic, which Swift cannot call.
static inline guestfs_h *cguestfs_create_flags(unsigned flags) {
    return guestfs_create_flags(flags);
}
