/* An LD_PRELOAD library whose constructor records, in the file named by NNP_PRELOAD_LOG,
 * the NoNewPrivs bit of the process it was loaded into and the euid a setuid-root binary
 * (NNP_PRELOAD_SUID) reaches from it: "comm NNP=x EUID=y". A dynamically linked nnp-shell
 * would run it before main (before NNP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void probe(void) {
    const char *log = getenv("NNP_PRELOAD_LOG");
    const char *suid = getenv("NNP_PRELOAD_SUID");
    if (!log || !suid || getenv("NNP_PRELOAD_DONE")) return;
    setenv("NNP_PRELOAD_DONE", "1", 1);  /* never recurse, whatever the shell keeps */
    unsetenv("LD_PRELOAD"); /* the popen shell must not load us again */
    char comm[64] = "?", nnp[8] = "?", line[256], euid[32] = "?";
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) { if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0; fclose(f); }
    f = fopen("/proc/self/status", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "NoNewPrivs: %7s", nnp) == 1) break;
        fclose(f);
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s -u", suid);
    f = popen(cmd, "r");
    if (f) { if (fgets(euid, sizeof euid, f)) euid[strcspn(euid, "\n")] = 0; pclose(f); }
    f = fopen(log, "a");
    if (f) { fprintf(f, "%s NNP=%s EUID=%s\n", comm, nnp, euid); fclose(f); }
}
