#if defined(__linux__)
#define _GNU_SOURCE
#endif
#include "system_shims.h"
#include <fcntl.h>
#include <unistd.h>

int products_pipe_cloexec(int fds[2]) {
#if defined(__linux__)
    return pipe2(fds, O_CLOEXEC);
#else
    if (pipe(fds) != 0) return -1;
    fcntl(fds[0], F_SETFD, FD_CLOEXEC);
    fcntl(fds[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

#if defined(__linux__)
#include <sys/prctl.h>

int products_set_parent_death_signal(int signal) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)signal, 0UL, 0UL, 0UL);
}
#else
int products_set_parent_death_signal(int signal) {
    (void)signal;
    return 0;
}
#endif
