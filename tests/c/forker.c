/* A process that comes and goes (issue 20, item 5: nnpctl audit read /proc once and skipped
 * the pids that had vanished). The chain: a process forks, the parent exits at once, and the
 * child does the same after ~0.1 ms, so it has a new pid every ~0.2 ms and no pid lives longer
 * than that. The first process stays as the chain's reaper (PR_SET_CHILD_SUBREAPER, reaping at
 * once, so no zombie lingers for audit to find instead) and sets no_new_privs on itself after
 * starting the chain: only the chain lacks NNP. Stops when the file argv[1] exists. Prints
 * "ready" once the chain runs, then "reaped N" after every 1,000 processes reaped. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void chain(const char *stop) {
    struct timespec pause = {0, 100000};
    for (;;) {
        if (access(stop, F_OK) == 0) _exit(0);
        pid_t pid = fork();
        if (pid < 0) { nanosleep(&pause, NULL); continue; } /* EAGAIN: try again */
        if (pid > 0) _exit(0);                               /* the parent goes away */
        nanosleep(&pause, NULL);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: forker STOPFILE\n"); return 2; }
    if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0) { perror("PR_SET_CHILD_SUBREAPER"); return 1; }
    pid_t first = fork();
    if (first < 0) { perror("fork"); return 1; }
    if (first == 0) chain(argv[1]);
    /* the reaper itself is not the process under test: it gets NNP after the chain started */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("PR_SET_NO_NEW_PRIVS"); return 1; }
    printf("ready\n");
    fflush(stdout);
    long reaped = 0;
    for (;;) {
        pid_t w = wait(NULL);
        if (w > 0 && ++reaped % 1000 == 0) { printf("reaped %ld\n", reaped); fflush(stdout); }
        if (w < 0 && access(argv[1], F_OK) == 0) return 0; /* no child left and asked to stop */
        if (w < 0) { struct timespec t = {0, 1000000}; nanosleep(&t, NULL); }
    }
}
