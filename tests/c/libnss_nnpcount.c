/* A test NSS module for the "group" database that knows no group and records every call that
 * enumerates the database: setgrent, getgrent_r and endgrent each append a line to
 * /run/nnp-enum.log (the test namespace's /run). Loaded as libnss_nnpcount.so.2 with
 * "group: files nnpcount" (glibc calls a later source's setgrent when an enumeration reaches
 * it) or "group: nnpcount files". Name and gid lookups answer NOTFOUND and are counted in
 * /run/nnp-byname.log, so a test can tell lookups from enumeration. initgroups_dyn adds nothing
 * (without it glibc's getgrouplist would enumerate this source itself). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <nss.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void note(const char *file, const char *what) {
    int fd = open(file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    ssize_t r = write(fd, what, strlen(what));
    (void)r;
    close(fd);
}

enum nss_status _nss_nnpcount_setgrent(int stayopen) {
    (void)stayopen;
    note("/run/nnp-enum.log", "setgrent\n");
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nnpcount_endgrent(void) {
    note("/run/nnp-enum.log", "endgrent\n");
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nnpcount_getgrent_r(struct group *g, char *buf, size_t len, int *errnop) {
    (void)g; (void)buf; (void)len;
    note("/run/nnp-enum.log", "getgrent_r\n");
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_nnpcount_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, int *errnop) {
    (void)g; (void)buf; (void)len;
    note("/run/nnp-byname.log", name);
    note("/run/nnp-byname.log", "\n");
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_nnpcount_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, int *errnop) {
    (void)gid; (void)g; (void)buf; (void)len;
    *errnop = ENOENT;
    return NSS_STATUS_NOTFOUND;
}

enum nss_status _nss_nnpcount_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                             gid_t **groups, long limit, int *errnop) {
    (void)user; (void)group; (void)start; (void)size; (void)groups; (void)limit; (void)errnop;
    return NSS_STATUS_SUCCESS;
}
