/* In-process benchmark: pam_start / pam_open_session / pam_close_session / pam_end in a
 * loop, so per-open costs below process start-up are visible. Prints the median and mean
 * nanoseconds per cycle and VmRSS (kB) after the first and after the last cycle.
 *
 *   pam_loop SERVICE USER CYCLES
 */
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int conv(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
    (void)msg; (void)data;
    *resp = calloc((size_t)n, sizeof(struct pam_response));
    return *resp ? PAM_SUCCESS : PAM_BUF_ERR;
}

static long rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    fclose(f);
    return kb;
}

static int cmp(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: pam_loop SERVICE USER CYCLES\n"); return 2; }
    int cycles = atoi(argv[3]);
    if (cycles < 1) cycles = 1;
    struct pam_conv pc = { conv, NULL };
    long long *ns = calloc((size_t)cycles, sizeof *ns);
    long rss_first = 0;
    int failures = 0;
    for (int i = 0; i < cycles; i++) {
        struct timespec a, b;
        pam_handle_t *h = NULL;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = pam_start(argv[1], argv[2], &pc, &h);
        if (rc == PAM_SUCCESS) rc = pam_open_session(h, PAM_SILENT);
        if (rc == PAM_SUCCESS) rc = pam_close_session(h, PAM_SILENT);
        else failures++;
        pam_end(h, rc);
        clock_gettime(CLOCK_MONOTONIC, &b);
        ns[i] = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        if (i == 0) rss_first = rss_kb();
    }
    long long sum = 0;
    for (int i = 0; i < cycles; i++) sum += ns[i];
    qsort(ns, (size_t)cycles, sizeof *ns, cmp);
    printf("median_ns=%lld mean_ns=%lld rss_first_kb=%ld rss_last_kb=%ld failures=%d\n",
           ns[cycles / 2], sum / cycles, rss_first, rss_kb(), failures);
    free(ns);
    return failures ? 1 : 0;
}
