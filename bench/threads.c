/* bench helper: a process with N threads (argv[1], default 10) that all sleep. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
static void *idle(void *a) { (void)a; for (;;) pause(); return NULL; }
int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 10;
    for (int i = 1; i < n; i++) { pthread_t t; pthread_create(&t, NULL, idle, NULL); }
    for (;;) pause();
}
