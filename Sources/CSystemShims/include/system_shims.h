#ifndef PRODUCTS_SYSTEM_SHIMS_H
#define PRODUCTS_SYSTEM_SHIMS_H

/// Asks the kernel to send `signal` to this process when its parent dies (Linux
/// prctl(PR_SET_PDEATHSIG), which Swift cannot call: prctl is variadic). Returns 0 on
/// success, -1 with errno set on failure, 0 and does nothing on other systems.
int products_set_parent_death_signal(int signal);

/// Sets this process's name as `top`, `pgrep` and /proc/<pid>/comm show it (Linux
/// prctl(PR_SET_NAME), at most 15 bytes kept). A worker started through /proc/self/exe would
/// otherwise be called "exe". Returns 0, or -1 with errno set; 0 and nothing elsewhere.
int products_set_process_name(const char *name);

/// pipe2(fds, O_CLOEXEC): a pipe whose ends are not inherited by anything this process spawns
/// (Glibc's Swift module does not export pipe2: it needs _GNU_SOURCE). Elsewhere, pipe() then
/// FD_CLOEXEC on each end. Returns 0, or -1 with errno set.
int products_pipe_cloexec(int fds[2]);

#include <stdint.h>

/// memfd_create(name, MFD_CLOEXEC): anonymous memory with a descriptor, which a spawned
/// process can map (the worker pool's scoreboard). Returns the descriptor, or -1 with errno
/// set (ENOSYS on systems without it).
int products_memfd_create(const char *name);

/// The listening socket's accept queue: connections the kernel has completed and nobody has
/// accepted yet (`*queued`), and its limit, the backlog (`*limit`). TCP through TCP_INFO,
/// unix sockets through sock_diag (what `ss -lx` shows as Recv-Q / Send-Q). Returns 0, or -1
/// with errno set when the kernel cannot tell.
int products_listen_queue(int fd, uint32_t *queued, uint32_t *limit);

/// Asks the kernel to stamp each segment this socket receives with the time it arrived
/// (SO_TIMESTAMPNS, CLOCK_REALTIME), for products_recv_stamped. Returns 0, or -1 with errno
/// set (ENOPROTOOPT elsewhere).
int products_enable_receive_timestamps(int fd);

/// recv(fd, buffer, length, 0) through recvmsg: also sets `*arrived_ns` to the kernel's
/// receive time of the last segment read (realtime ns since the epoch), or 0 when the kernel
/// gave none. A load generator's own scheduling delay is then not part of the time it
/// measures: the answer was at its socket when the kernel stamped it. Returns what recv does.
long products_recv_stamped(int fd, void *buffer, unsigned long length, int64_t *arrived_ns);

// Shared-memory counters (the scoreboard): each is written by one process and read by others,
// so plain loads and stores are enough, but they must be single instructions the compiler
// cannot split, merge or cache: relaxed atomics. Inline, so a counter update is one add.
static inline uint64_t products_atomic_load(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void products_atomic_store(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
/// Adds to a counter only this process writes: a load and a store, no locked instruction.
static inline void products_atomic_add_single_writer(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + v, __ATOMIC_RELAXED);
}
/// Acquire/release ordering around a seqlock's sequence number.
static inline uint64_t products_atomic_load_acquire(const uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void products_atomic_store_release(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}
static inline void products_atomic_fence(void) {
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}
/// Compare-and-swap (a worker claiming a free slot): 1 if `*p` was `expected` and is now `desired`.
static inline int products_atomic_compare_exchange(uint64_t *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

#endif
