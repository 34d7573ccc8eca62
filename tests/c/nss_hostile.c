/* A hostile NSS module: built as libnss_systemd.so.2 (or any libnss_NAME.so.2) into a
 * directory the user controls, and offered through LD_LIBRARY_PATH. Its constructor appends
 * "comm NNP=x" to the file compiled in as HOSTILE_LOG, whatever the environment holds: any
 * program that loads NSS modules through LD_LIBRARY_PATH runs the user's code (the static
 * nnp-shell of issue 20 did, inside nnp-shell). It answers no lookup. */
#include <stdio.h>
#include <string.h>

#ifndef HOSTILE_LOG
#error "build with -DHOSTILE_LOG=\"/path/to/log\""
#endif

__attribute__((constructor)) static void hostile(void) {
    char comm[64] = "?", nnp[8] = "?", line[256];
    FILE *f = fopen("/proc/self/comm", "r");
    if (f) { if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0; fclose(f); }
    f = fopen("/proc/self/status", "r");
    if (f) {
        while (fgets(line, sizeof line, f))
            if (sscanf(line, "NoNewPrivs: %7s", nnp) == 1) break;
        fclose(f);
    }
    f = fopen(HOSTILE_LOG, "a");
    if (f) { fprintf(f, "%s NNP=%s\n", comm, nnp); fclose(f); }
}
