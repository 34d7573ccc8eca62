/* exec_loop N PATH: fork+exec+wait PATH N times; prints ns per exec (median of 5 batches). */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }
static int cmp(const void *a, const void *b) { long long x = *(const long long *)a, y = *(const long long *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    long long per[5];
    for (int b = 0; b < 5; b++) {
        long long t0 = now();
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) { execl(argv[2], argv[2], (char *)NULL); _exit(127); }
            int st; waitpid(p, &st, 0);
        }
        per[b] = (now() - t0) / n;
    }
    qsort(per, 5, sizeof per[0], cmp);
    printf("%lld\n", per[2]);
    return 0;
}
