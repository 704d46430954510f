#ifndef EDGEREC_ENCODER_C_H
#define EDGEREC_ENCODER_C_H
#include <openh264/codec_api.h>

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
} edgerec_enc;

int edgerec_enc_new(edgerec_enc_opts o, edgerec_enc **out);
void edgerec_enc_free(edgerec_enc *e);
/* Encodes one I420 picture; *out/*len is the access unit (Annex-B, all
   layers), valid until the next call. len 0 = no output (skipped). */
int edgerec_enc_encode(edgerec_enc *e, unsigned char *y, unsigned char *u, unsigned char *v,
                       int w, int h, long long ts_ms, unsigned char **out, int *len);
void edgerec_enc_force_idr(edgerec_enc *e);
#endif
