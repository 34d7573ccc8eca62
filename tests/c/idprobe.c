/* idprobe [FILE]: print "EUID EGID CAPEFF NNP" (CapEff in hex, the no_new_privs bit) after
 * creating FILE if given. Installed setuid, setgid or with file capabilities in the qemu
 * tests: what the exec gave it is what it prints (guard_action = "degrade": nothing). */
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == '/') {
        int fd = open(argv[1], O_CREAT | O_WRONLY, 0644);
        if (fd >= 0) close(fd);
    }
    unsigned long long capeff = ~0ULL;
    char line[256];
    FILE *f = fopen("/proc/self/status", "r");
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "CapEff: %llx", &capeff);
    if (f) fclose(f);
    printf("%u %u %llx %d\n", (unsigned)geteuid(), (unsigned)getegid(), capeff,
           prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    return 0;
}
