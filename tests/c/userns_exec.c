/* userns_exec UID PATH [identity]: as UID, in a new user namespace whose uid/gid maps root
 * (this process, as root of the init namespace, writes them) are "0 UID 1" and
 * "1 200000 1" (a rootless container on subordinate ids), become namespace root and exec
 * PATH -u. PATH is setuid to kuid 200000 (namespace uid 1): the exec changes the euid,
 * inside a user namespace with its own mapping.
 * With "identity", the maps are "0 0 4294967295" (host ids onto themselves, as
 * systemd-nspawn --private-users=identity gives) and the process stays UID: a setuid-root
 * PATH then yields real kuid 0. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int write_file(const char *path, const char *s) {
    int fd = open(path, O_WRONLY);
    if (fd < 0) return -1;
    ssize_t n = write(fd, s, strlen(s));
    close(fd);
    return n == (ssize_t)strlen(s) ? 0 : -1;
}

int main(int argc, char **argv) {
    if (argc != 3 && !(argc == 4 && strcmp(argv[3], "identity") == 0)) {
        fprintf(stderr, "usage: userns_exec UID PATH [identity]\n");
        return 2;
    }
    int uid = atoi(argv[1]);
    int identity = argc == 4;
    int go[2], ready[2];
    if (pipe(go) || pipe(ready)) return 2;
    pid_t pid = fork();
    if (pid == 0) {
        char c;
        if (setgroups(0, NULL) || setgid(uid) || setuid(uid)) { perror("drop"); _exit(2); }
        if (unshare(CLONE_NEWUSER)) { perror("unshare"); _exit(2); }
        if (write(ready[1], "r", 1) != 1) _exit(2);
        if (read(go[0], &c, 1) != 1) _exit(2);
        if (!identity && (setresgid(0, 0, 0) || setresuid(0, 0, 0))) { perror("ns root"); _exit(2); }
        execl(argv[2], argv[2], "-u", (char *)NULL);
        perror("exec");
        _exit(127);
    }
    char c, path[64], map[64];
    if (read(ready[0], &c, 1) != 1) return 2;
    if (identity)
        snprintf(map, sizeof map, "0 0 4294967295\n");
    else
        snprintf(map, sizeof map, "0 %d 1\n1 200000 1\n", uid);
    snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
    if (write_file(path, map)) { perror("uid_map"); return 2; }
    snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
    if (write_file(path, map)) { perror("gid_map"); return 2; }
    if (write(go[1], "g", 1) != 1) return 2;
    int st;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st)) { printf("killed by signal %d\n", WTERMSIG(st)); return 1; }
    return WEXITSTATUS(st);
}
