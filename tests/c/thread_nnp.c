/* A process whose main thread has no_new_privs and whose second thread has not (NNP is per
 * thread). Prints "ready TID" (the second thread's id) and waits. With "exec PATH", the
 * second thread execs PATH -u once the main thread has NNP: a setuid-root PATH then reaches
 * euid 0 although the process "has NNP" in /proc/PID/status. With "both", NNP is set before
 * the thread starts (inherited): the control. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int main_has_nnp = 0;
static const char *exec_path = NULL;

static void *worker(void *arg) {
    (void)arg;
    printf("ready %ld\n", (long)syscall(SYS_gettid));
    fflush(stdout);
    pthread_mutex_lock(&mu);
    while (!main_has_nnp) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
    if (exec_path) {
        execl(exec_path, exec_path, "-u", (char *)NULL);
        perror("execl");
        _exit(127);
    }
    for (;;) pause();
    return NULL;
}

int main(int argc, char **argv) {
    int both = argc > 1 && strcmp(argv[1], "both") == 0;
    if (argc > 2 && strcmp(argv[1], "exec") == 0) exec_path = argv[2];
    if (both && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 1; }
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
    usleep(100000);
    if (!both && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { perror("prctl"); return 1; }
    pthread_mutex_lock(&mu);
    main_has_nnp = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
    for (;;) pause();
}
