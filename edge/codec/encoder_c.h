#ifndef EDGEREC_ENCODER_C_H
#define EDGEREC_ENCODER_C_H
#include <openh264/codec_api.h>
#include "worker_c.h"

typedef struct edgerec_enc_opts {
  int width, height;
  float fps;
  int bitrate;       /* bit/s */
  int intra_period;  /* pictures between IDRs */
  int threads;       /* iMultipleThreadIdc */
  int complexity;    /* ECOMPLEXITY_MODE */
  int background;    /* bEnableBackgroundDetection */
  int loop_filter;   /* iLoopFilterDisableIdc */
} edgerec_enc_opts;

typedef struct edgerec_enc {
  ISVCEncoder *e;
  unsigned char *buf;
  int cap;
  edgerec_worker w; /* runs EncodeFrame (worker_c.h) */
  /* the job: planes (pinned by the Go caller until done), size, time */
  unsigned char *y, *u, *v;
  int width, height;
  long long ts_ms;
  int force_idr;
  /* its result: rv 0 and out/len (len 0 = no output), valid until the next job */
  int rv;
  unsigned char *out;
  int len;
} edgerec_enc;

int edgerec_enc_new(edgerec_enc_opts o, edgerec_enc **out);
void edgerec_enc_free(edgerec_enc *e);
/* Hands one I420 picture to the encoder's thread; when its eventfd
   (e->w.efd) is readable, e->rv, e->out and e->len hold the access unit
   (Annex-B, all layers; len 0 = no output). Returns -1 if a job is pending. */
int edgerec_enc_submit(edgerec_enc *e, unsigned char *y, unsigned char *u, unsigned char *v,
                       int w, int h, long long ts_ms, int force_idr);
#endif
