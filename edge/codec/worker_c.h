#ifndef EDGEREC_WORKER_C_H
#define EDGEREC_WORKER_C_H
#include <pthread.h>

/* One C thread that runs a codec's calls (issue 14, see worker.go): the Go
   caller hands it a job and waits on an eventfd in Go's poller, so no Go
   scheduler P sits in a multi-millisecond cgo call. */
typedef struct edgerec_worker {
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int efd;     /* eventfd, written once per finished job; owned by Go once started */
  int state;   /* 0 idle, 1 job pending, 2 stop */
  int started; /* the thread runs */
  void (*fn)(void *);
  void *arg;
} edgerec_worker;

/* Starts the thread; returns 0 or a negative code. */
int edgerec_worker_start(edgerec_worker *w);
/* Hands fn(arg) to the thread; returns 0, or -1 when a job is pending or
   the worker is stopped. The eventfd becomes readable when fn returned. */
int edgerec_worker_submit(edgerec_worker *w, void (*fn)(void *), void *arg);
/* Stops and joins the thread (after any pending job). Does not close efd. */
void edgerec_worker_stop(edgerec_worker *w);
#endif
