/* A test NSS module that, like SSSD with case_sensitive = false (or AD, winbind), matches
 * names case-insensitively and returns them lowercased: user "ciuser" (uid 61400, primary
 * gid 61400) and group "cigroup" (gid 61401, member ciuser). Loaded as libnss_nnpci.so.2
 * with "passwd: files nnpci" and "group: files nnpci". */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

static enum nss_status fill_pw(struct passwd *pw, char *buf, size_t len, int *errnop) {
    if (len < 64) { *errnop = ERANGE; return NSS_STATUS_TRYAGAIN; }
    char *p = buf;
    strcpy(p, "ciuser"); pw->pw_name = p; p += 7;
    strcpy(p, "x"); pw->pw_passwd = p; pw->pw_gecos = p; p += 2;
    strcpy(p, "/"); pw->pw_dir = p; p += 2;
    strcpy(p, "/bin/sh"); pw->pw_shell = p;
    pw->pw_uid = 61400; pw->pw_gid = 61400;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nnpci_getpwnam_r(const char *name, struct passwd *pw, char *buf, size_t len, int *errnop) {
    if (strcasecmp(name, "ciuser") != 0) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill_pw(pw, buf, len, errnop);
}

enum nss_status _nss_nnpci_getpwuid_r(uid_t uid, struct passwd *pw, char *buf, size_t len, int *errnop) {
    if (uid != 61400) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill_pw(pw, buf, len, errnop);
}

static enum nss_status fill_gr(struct group *g, char *buf, size_t len, int *errnop) {
    if (len < 64) { *errnop = ERANGE; return NSS_STATUS_TRYAGAIN; }
    char **mem = (char **)buf;
    char *p = buf + 2 * sizeof(char *);
    strcpy(p, "cigroup"); g->gr_name = p; p += 8;
    strcpy(p, "x"); g->gr_passwd = p; p += 2;
    strcpy(p, "ciuser"); mem[0] = p; mem[1] = NULL;
    g->gr_mem = mem; g->gr_gid = 61401;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nnpci_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, int *errnop) {
    if (strcasecmp(name, "cigroup") != 0) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill_gr(g, buf, len, errnop);
}

enum nss_status _nss_nnpci_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, int *errnop) {
    if (gid != 61401) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill_gr(g, buf, len, errnop);
}

enum nss_status _nss_nnpci_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                          gid_t **groups, long limit, int *errnop) {
    (void)group; (void)limit;
    if (strcasecmp(user, "ciuser") != 0) return NSS_STATUS_SUCCESS;
    if (*start == *size) {
        long n = *size * 2 + 1;
        gid_t *ng = realloc(*groups, n * sizeof(gid_t));
        if (!ng) { *errnop = ENOMEM; return NSS_STATUS_TRYAGAIN; }
        *groups = ng; *size = n;
    }
    (*groups)[(*start)++] = 61401;
    return NSS_STATUS_SUCCESS;
}
