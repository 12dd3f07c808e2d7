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

int products_set_process_name(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0UL, 0UL, 0UL);
}
#else
int products_set_parent_death_signal(int signal) {
    (void)signal;
    return 0;
}

int products_set_process_name(const char *name) {
    (void)name;
    return 0;
}
#endif

#if defined(__linux__)
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <linux/inet_diag.h>
#include <linux/rtnetlink.h>

int products_memfd_create(const char *name) {
    return memfd_create(name, MFD_CLOEXEC);
}

static int unix_listen_queue(int fd, uint32_t *queued, uint32_t *limit) {
    struct stat st;
    if (fstat(fd, &st) != 0) return -1;
    int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (nl < 0) return -1;
    struct {
        struct nlmsghdr header;
        struct unix_diag_req request;
    } message;
    memset(&message, 0, sizeof message);
    message.header.nlmsg_len = sizeof message;
    message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    message.header.nlmsg_flags = NLM_F_REQUEST;
    message.request.sdiag_family = AF_UNIX;
    message.request.udiag_states = 1u << 10;  /* TCP_LISTEN */
    message.request.udiag_ino = (uint32_t)st.st_ino;
    message.request.udiag_show = UDIAG_SHOW_RQLEN;
    message.request.udiag_cookie[0] = INET_DIAG_NOCOOKIE;
    message.request.udiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (sendto(nl, &message, sizeof message, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) {
        int saved = errno;
        close(nl);
        errno = saved;
        return -1;
    }
    long buffer[1024];
    ssize_t length;
    do { length = recv(nl, buffer, sizeof buffer, 0); } while (length < 0 && errno == EINTR);
    int saved = errno;
    close(nl);
    if (length < 0) { errno = saved; return -1; }
    for (struct nlmsghdr *h = (struct nlmsghdr *)buffer; NLMSG_OK(h, (size_t)length); h = NLMSG_NEXT(h, length)) {
        if (h->nlmsg_type == NLMSG_ERROR) {
            struct nlmsgerr *error = NLMSG_DATA(h);
            errno = error->error ? -error->error : ENOENT;
            return -1;
        }
        if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        struct unix_diag_msg *diag = NLMSG_DATA(h);
        int attributes = (int)(h->nlmsg_len - NLMSG_LENGTH(sizeof *diag));
        for (struct rtattr *a = (struct rtattr *)(diag + 1); RTA_OK(a, attributes); a = RTA_NEXT(a, attributes)) {
            if (a->rta_type == UNIX_DIAG_RQLEN) {
                struct unix_diag_rqlen *lengths = RTA_DATA(a);
                *queued = lengths->udiag_rqueue;
                *limit = lengths->udiag_wqueue;
                return 0;
            }
        }
    }
    errno = ENOENT;
    return -1;
}

int products_listen_queue(int fd, uint32_t *queued, uint32_t *limit) {
    struct sockaddr_storage address;
    socklen_t length = sizeof address;
    if (getsockname(fd, (struct sockaddr *)&address, &length) != 0) return -1;
    if (address.ss_family == AF_UNIX) return unix_listen_queue(fd, queued, limit);
    if (address.ss_family != AF_INET && address.ss_family != AF_INET6) { errno = EAFNOSUPPORT; return -1; }
    struct tcp_info info;
    socklen_t size = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &size) != 0) return -1;
    /* For a listening socket, Linux reports the accept queue in tcpi_unacked and the
       backlog in tcpi_sacked. */
    *queued = info.tcpi_unacked;
    *limit = info.tcpi_sacked;
    return 0;
}

#include <sys/socket.h>
#include <time.h>

int products_enable_receive_timestamps(int fd) {
    int one = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
}

long products_recv_stamped(int fd, void *buffer, unsigned long length, int64_t *arrived_ns) {
    struct iovec part = { .iov_base = buffer, .iov_len = length };
    union { char bytes[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } control;
    struct msghdr message = { .msg_iov = &part, .msg_iovlen = 1,
                              .msg_control = control.bytes, .msg_controllen = sizeof control.bytes };
    *arrived_ns = 0;
    ssize_t n = recvmsg(fd, &message, 0);
    if (n <= 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec at;
            memcpy(&at, CMSG_DATA(c), sizeof at);
            *arrived_ns = (int64_t)at.tv_sec * 1000000000 + at.tv_nsec;
        }
    }
    return n;
}
#else
#include <errno.h>
#include <sys/socket.h>
int products_enable_receive_timestamps(int fd) { (void)fd; errno = ENOPROTOOPT; return -1; }
long products_recv_stamped(int fd, void *buffer, unsigned long length, int64_t *arrived_ns) {
    *arrived_ns = 0;
    return recv(fd, buffer, length, 0);
}
int products_memfd_create(const char *name) { (void)name; errno = ENOSYS; return -1; }
int products_listen_queue(int fd, uint32_t *queued, uint32_t *limit) {
    (void)fd; (void)queued; (void)limit; errno = ENOSYS; return -1;
}
#endif
