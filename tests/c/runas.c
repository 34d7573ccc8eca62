/* runas UID GID GROUPS -- CMD...: drop from root to UID/GID with the supplementary GROUPS
 * (comma-separated, or "-" for none), without keeping any capability (plain setuid from
 * root clears them), then exec CMD. Unlike setpriv --reuid it leaves no permitted
 * capabilities, so a file-capability exec from here is a real raise. */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 6 || strcmp(argv[4], "--") != 0) {
        fprintf(stderr, "usage: runas UID GID GROUPS -- CMD...\n");
        return 2;
    }
    gid_t groups[1024];
    int n = 0;
    if (strcmp(argv[3], "-") != 0) {
        char *s = argv[3], *tok;
        while ((tok = strsep(&s, ",")) && n < 1024) groups[n++] = (gid_t)atoi(tok);
    }
    if (setgroups(n, groups) || setgid((gid_t)atoi(argv[2])) || setuid((uid_t)atoi(argv[1]))) {
        perror("runas");
        return 2;
    }
    execv(argv[5], argv + 5);
    perror("runas: exec");
    return 127;
}
