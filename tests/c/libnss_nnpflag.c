/* A test NSS module for the "group" database that serves one directory group,
 * "ldaprestricted" (gid 61200, member alice), only while the flag file /run/nnp-flag exists
 * ("the directory is up"); otherwise every lookup returns NSS_STATUS_UNAVAIL with errno EIO,
 * as an LDAP client does when its server is down. glibc's getgrouplist drops that error;
 * getgrnam_r reports it. Loaded as libnss_nnpflag.so.2 with "group: files nnpflag". */
#include <errno.h>
#include <grp.h>
#include <nss.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define GNAME "ldaprestricted"
#define GID 61200
#define MEMBER "alice"

static int up(void) { return access("/run/nnp-flag", F_OK) == 0; }

static enum nss_status fill(struct group *g, char *buf, size_t len, int *errnop) {
    size_t need = sizeof(GNAME) + 2 + sizeof(MEMBER) + 2 * sizeof(char *) + 16;
    if (len < need) { *errnop = ERANGE; return NSS_STATUS_TRYAGAIN; }
    char **mem = (char **)buf;                       /* buf is suitably aligned by glibc */
    char *p = buf + 2 * sizeof(char *);
    strcpy(p, GNAME); g->gr_name = p; p += sizeof(GNAME);
    strcpy(p, "x"); g->gr_passwd = p; p += 2;
    strcpy(p, MEMBER); mem[0] = p; mem[1] = NULL;
    g->gr_mem = mem; g->gr_gid = GID;
    return NSS_STATUS_SUCCESS;
}

enum nss_status _nss_nnpflag_getgrnam_r(const char *name, struct group *g, char *buf, size_t len, int *errnop) {
    if (!up()) { *errnop = EIO; return NSS_STATUS_UNAVAIL; }
    if (strcmp(name, GNAME) != 0) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill(g, buf, len, errnop);
}

enum nss_status _nss_nnpflag_getgrgid_r(gid_t gid, struct group *g, char *buf, size_t len, int *errnop) {
    if (!up()) { *errnop = EIO; return NSS_STATUS_UNAVAIL; }
    if (gid != GID) { *errnop = ENOENT; return NSS_STATUS_NOTFOUND; }
    return fill(g, buf, len, errnop);
}

enum nss_status _nss_nnpflag_initgroups_dyn(const char *user, gid_t group, long *start, long *size,
                                            gid_t **groups, long limit, int *errnop) {
    (void)group; (void)limit;
    if (!up()) { *errnop = EIO; return NSS_STATUS_UNAVAIL; }
    if (strcmp(user, MEMBER) != 0) return NSS_STATUS_SUCCESS;
    if (*start == *size) {
        long n = *size * 2 + 1;
        gid_t *ng = realloc(*groups, n * sizeof(gid_t));
        if (!ng) { *errnop = ENOMEM; return NSS_STATUS_TRYAGAIN; }
        *groups = ng; *size = n;
    }
    (*groups)[(*start)++] = GID;
    return NSS_STATUS_SUCCESS;
}
