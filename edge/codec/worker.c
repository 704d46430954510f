#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "worker_c.h"

static void *edgerec_worker_loop(void *p) {
  edgerec_worker *w = (edgerec_worker *)p;
  pthread_mutex_lock(&w->mu);
  for (;;) {
    while (w->state == 0) pthread_cond_wait(&w->cv, &w->mu);
    if (w->state == 2) break;
    void (*fn)(void *) = w->fn;
    void *arg = w->arg;
    pthread_mutex_unlock(&w->mu);
    fn(arg);
    pthread_mutex_lock(&w->mu);
    if (w->state == 1) w->state = 0;
    uint64_t one = 1;
    while (write(w->efd, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

int edgerec_worker_start(edgerec_worker *w) {
  memset(w, 0, sizeof *w);
  w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->efd < 0) return -1;
  if (pthread_mutex_init(&w->mu, NULL) != 0) {
    close(w->efd);
    return -2;
  }
  if (pthread_cond_init(&w->cv, NULL) != 0) {
    pthread_mutex_destroy(&w->mu);
    close(w->efd);
    return -3;
  }
  /* The thread starts with every signal blocked: Go's handlers stay on Go's
     threads. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  int rv = pthread_create(&w->th, NULL, edgerec_worker_loop, w);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (rv != 0) {
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    close(w->efd);
    return -4;
  }
  w->started = 1;
  return 0;
}

int edgerec_worker_submit(edgerec_worker *w, void (*fn)(void *), void *arg) {
  pthread_mutex_lock(&w->mu);
  if (!w->started || w->state != 0) {
    pthread_mutex_unlock(&w->mu);
    return -1;
  }
  w->fn = fn;
  w->arg = arg;
  w->state = 1;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  return 0;
}

void edgerec_worker_stop(edgerec_worker *w) {
  if (!w->started) return;
  pthread_mutex_lock(&w->mu);
  while (w->state == 1) {
    /* a job still runs: let it finish (the loop sets state 0 after it) */
    pthread_mutex_unlock(&w->mu);
    usleep(100);
    pthread_mutex_lock(&w->mu);
  }
  w->state = 2;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  pthread_join(w->th, NULL);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  w->started = 0;
}
