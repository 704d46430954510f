#ifndef EDGEREC_DECODER_C_H
#define EDGEREC_DECODER_C_H
#include <openh264/codec_api.h>
#include "worker_c.h"

typedef struct edgerec_picture {
  unsigned char *y, *u, *v;
  int ystride, cstride;
  int width, height;
  int ready;
} edgerec_picture;

typedef struct edgerec_dec {
  ISVCDecoder *d;
  edgerec_worker w; /* runs the decoder's calls (worker_c.h) */
  /* the job: an access unit in C memory, or a flush */
  const unsigned char *src;
  int len;
  int flush;
  /* its result: the DECODING_STATE and the picture (decoder memory) */
  int st;
  edgerec_picture pic;
} edgerec_dec;

/* threaded 1: the decoder's calls run on its own thread (edgerec_dec_submit);
   0: on the caller's (edgerec_dec_call). */
int edgerec_dec_new(edgerec_dec **out, int threaded);
void edgerec_dec_free(edgerec_dec *x);
/* Hands a decode (flush 0: src/len) or a flush (flush 1) to the decoder's
   thread; when x->w.efd is readable, x->st and x->pic hold the result.
   Returns -1 if a job is pending. */
int edgerec_dec_submit(edgerec_dec *x, const unsigned char *src, int len, int flush);
/* The same call made on the caller's thread (a decoder made unthreaded). */
void edgerec_dec_call(edgerec_dec *x, const unsigned char *src, int len, int flush);
#endif
