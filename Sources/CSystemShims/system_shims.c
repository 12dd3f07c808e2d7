#include "system_shims.h"

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
