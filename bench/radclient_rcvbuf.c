/* bench/radius.py runs radclient with this preloaded: its UDP socket gets a receive buffer of RCVBUF bytes
 * (4 MB unless set; Linux caps it at net.core.rmem_max), as a NAS's own socket has, instead of Linux's
 * default 208 KB. On loopback an MS-CHAPv2 Accept (~230 bytes: MS-CHAP2-Success and the MPPE keys) takes
 * ~1,280 bytes of that buffer, so 208 KB holds ~166 of them: with 200 requests in flight, a server that
 * answers faster than radclient reads had 34 replies a file dropped by the kernel, each costing its request
 * radclient's 3 s retransmit timeout (and a 2,000-packet file took over 3 s whatever the server did). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/socket.h>

int socket(int domain, int type, int protocol) {
    static int (*real)(int, int, int);
    if (!real) real = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
    int fd = real(domain, type, protocol);
    if (fd >= 0 && (type & 0xf) == SOCK_DGRAM) {
        const char *wanted = getenv("RCVBUF");
        int size = wanted ? atoi(wanted) : 4194304;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
    return fd;
}
