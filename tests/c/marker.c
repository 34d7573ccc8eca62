/* marker FILE: the first thing it does is create FILE, then it prints its euid. Installed
 * setuid root: if the guard kills the exec before the new image runs, FILE never appears. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1) {
        int fd = open(argv[1], O_CREAT | O_WRONLY, 0644);
        if (fd >= 0) close(fd);
    }
    printf("%u\n", (unsigned)geteuid());
    return 0;
}
