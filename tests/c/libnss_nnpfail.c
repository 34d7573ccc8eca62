/* A test NSS module for the "group" database that is "unreachable": every lookup returns
 * NSS_STATUS_UNAVAIL with errno EIO, as an LDAP/SSSD backend does when its server is down.
 * Loaded by glibc as libnss_nnpfail.so.2 (LD_LIBRARY_PATH) when nsswitch.conf says
 * "group: nnpfail". */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <stddef.h>
#include <sys/types.h>

enum nss_status _nss_nnpfail_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, int *errnop) {
    (void)gid; (void)g; (void)buf; (void)len;
    *errnop = EIO;
    return NSS_STATUS_UNAVAIL;
}

enum nss_status _nss_nnpfail_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, int *errnop) {
    (void)name; (void)g; (void)buf; (void)len;
    *errnop = EIO;
    return NSS_STATUS_UNAVAIL;
}

enum nss_status _nss_nnpfail_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                            gid_t **groups, long limit, int *errnop) {
    (void)user; (void)group; (void)start; (void)size; (void)groups; (void)limit;
    *errnop = EIO;
    return NSS_STATUS_UNAVAIL;
}
