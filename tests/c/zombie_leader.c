/* A process whose leader has exited (pthread_exit) while its other thread runs: the leader's
 * /proc/PID/status says "State: Z (zombie)", yet the process is alive and that thread can run
 * a program (F1: it must be judged, never skipped as a zombie). Prints "ready TID" (the
 * running thread's id) and waits. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

static void *worker(void *arg) {
    (void)arg;
    printf("ready %ld\n", (long)syscall(SYS_gettid));
    fflush(stdout);
    for (;;) pause();
    return NULL;
}

int main(void) {
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
    pthread_exit(NULL);
}
