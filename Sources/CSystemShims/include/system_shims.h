#ifndef PRODUCTS_SYSTEM_SHIMS_H
#define PRODUCTS_SYSTEM_SHIMS_H

/// Asks the kernel to send `signal` to this process when its parent dies (Linux
/// prctl(PR_SET_PDEATHSIG), which Swift cannot call: prctl is variadic). Returns 0 on
/// success, -1 with errno set on failure, 0 and does nothing on other systems.
int products_set_parent_death_signal(int signal);

/// pipe2(fds, O_CLOEXEC): a pipe whose ends are not inherited by anything this process spawns
/// (Glibc's Swift module does not export pipe2: it needs _GNU_SOURCE). Elsewhere, pipe() then
/// FD_CLOEXEC on each end. Returns 0, or -1 with errno set.
int products_pipe_cloexec(int fds[2]);

#endif
