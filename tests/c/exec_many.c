/* exec_many LO HI GID FILE...: for each uid LO..HI and each FILE, fork a child that drops
 * to that uid (primary gid = uid, supplementary GID, no capability left: plain setuid from
 * root) and execs FILE without arguments; wait for it. Prints how many did not exit 0 and
 * fails if any. Thousands of distinct (uid, file) execs in seconds: what fills the guard's
 * report map past its size. */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: exec_many LO HI GID FILE...\n");
        return 2;
    }
    int lo = atoi(argv[1]), hi = atoi(argv[2]);
    gid_t g = (gid_t)atoi(argv[3]);
    int bad = 0;
    for (int u = lo; u <= hi; u++)
        for (int f = 4; f < argc; f++) {
            pid_t p = fork();
            if (p == 0) {
                if (setgroups(1, &g) || setgid((gid_t)u) || setuid((uid_t)u))
                    _exit(126);
                execl(argv[f], argv[f], (char *)0);
                _exit(127);
            }
            int st = 0;
            if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
                bad++;
        }
    printf("%d\n", bad);
    return bad != 0;
}
