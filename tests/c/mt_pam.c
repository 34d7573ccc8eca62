/* Multithreaded caller: THREADS threads, each running pam_start / pam_open_session /
 * pam_close_session / pam_end LOOPS times for its own user. no_new_privs is per thread, so
 * after each open a thread of the restricted user must read 1 and a thread of the other
 * user must read 0. Prints "mismatches=N failures=N"; exit 1 on any.
 *   mt_pam SERVICE RESTRICTED_USER OTHER_USER THREADS LOOPS */
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>

static const char *svc, *users[2];
static int loops;
static int mismatches, failures;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int conv(int n, const struct pam_message **m, struct pam_response **r, void *d) {
    (void)m; (void)d;
    *r = calloc((size_t)n, sizeof **r);
    return *r ? PAM_SUCCESS : PAM_BUF_ERR;
}

static void *run(void *arg) {
    long idx = (long)arg;
    int restricted = (idx % 2 == 0);
    const char *user = users[restricted ? 0 : 1];
    struct pam_conv pc = { conv, NULL };
    for (int i = 0; i < loops; i++) {
        pam_handle_t *h = NULL;
        int rc = pam_start(svc, user, &pc, &h);
        if (rc == PAM_SUCCESS) rc = pam_open_session(h, PAM_SILENT);
        int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
        if (rc == PAM_SUCCESS) rc = pam_close_session(h, PAM_SILENT);
        pam_end(h, rc);
        pthread_mutex_lock(&lock);
        if (rc != PAM_SUCCESS) failures++;
        if (nnp != restricted) mismatches++;
        pthread_mutex_unlock(&lock);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: mt_pam SERVICE RESTRICTED OTHER THREADS LOOPS\n"); return 2; }
    svc = argv[1]; users[0] = argv[2]; users[1] = argv[3];
    int threads = atoi(argv[4]); loops = atoi(argv[5]);
    pthread_t t[64];
    if (threads < 1 || threads > 64) return 2;
    for (long i = 0; i < threads; i++) pthread_create(&t[i], NULL, run, (void *)i);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    printf("mismatches=%d failures=%d\n", mismatches, failures);
    return (mismatches || failures) ? 1 : 0;
}
