/*
 * Prints a TCP port on 127.0.0.1 that was free a moment ago: the kernel
 * picks it for a bind to port 0. The harness starts servers on such ports;
 * a server that loses the race fails to start and the harness retries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr;
    socklen_t len = sizeof addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 ||
        getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        perror("freeport");
        return 1;
    }
    printf("%d\n", ntohs(addr.sin_port));
    close(fd);
    return 0;
}
