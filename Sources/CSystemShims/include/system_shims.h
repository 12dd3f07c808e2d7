#ifndef PRODUCTS_SYSTEM_SHIMS_H
#define PRODUCTS_SYSTEM_SHIMS_H

/// Asks the kernel to send `signal` to this process when its parent dies (Linux
/// prctl(PR_SET_PDEATHSIG), which Swift cannot call: prctl is variadic). Returns 0 on
/// success, -1 with errno set on failure, 0 and does nothing on other systems.
int products_set_parent_death_signal(int signal);

#endif
