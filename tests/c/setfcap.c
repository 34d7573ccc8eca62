/* setfcap FILE: give FILE the file capabilities cap_net_raw,cap_setuid+ep by writing the
 * security.capability xattr (VFS_CAP_REVISION_2) directly: for the qemu guest, whose
 * initramfs has no setcap and whose cpio archive carries no xattrs. */
#include <stdio.h>
#include <stdint.h>
#include <sys/xattr.h>

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: setfcap FILE\n"); return 2; }
    uint32_t caps = (1u << 13) | (1u << 7);           /* CAP_NET_RAW, CAP_SETUID */
    uint32_t data[5] = { 0x02000000u | 1u, caps, 0, 0, 0 }; /* revision 2, effective */
    if (setxattr(argv[1], "security.capability", data, sizeof data, 0)) { perror("setxattr"); return 1; }
    return 0;
}
