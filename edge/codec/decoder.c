#include <stdlib.h>
#include <string.h>
#include "decoder_c.h"

static int edgerec_dec_create(ISVCDecoder **out) {
  long rv = WelsCreateDecoder(out);
  if (rv != 0 || *out == NULL) return -1;
  SDecodingParam p;
  memset(&p, 0, sizeof(p));
  p.sVideoProperty.eVideoBsType = VIDEO_BITSTREAM_AVC;
  // No error concealment: a damaged picture must be reported, never
  // silently patched with guessed pixels.
  p.eEcActiveIdc = ERROR_CON_DISABLE;
  rv = (**out)->Initialize(*out, &p);
  if (rv != 0) {
    WelsDestroyDecoder(*out);
    *out = NULL;
    return -2;
  }
  return 0;
}

int edgerec_dec_new(edgerec_dec **out, int threaded) {
  edgerec_dec *x = (edgerec_dec *)calloc(1, sizeof(edgerec_dec));
  if (x == NULL) return -3;
  int rv = edgerec_dec_create(&x->d);
  if (rv != 0) {
    free(x);
    return rv;
  }
  if (threaded && edgerec_worker_start(&x->w) != 0) {
    (*x->d)->Uninitialize(x->d);
    WelsDestroyDecoder(x->d);
    free(x);
    return -4;
  }
  *out = x;
  return 0;
}

void edgerec_dec_free(edgerec_dec *x) {
  if (x == NULL) return;
  edgerec_worker_stop(&x->w);
  (*x->d)->Uninitialize(x->d);
  WelsDestroyDecoder(x->d);
  free(x);
}

static void fill(edgerec_picture *pic, unsigned char **dst, SBufferInfo *info) {
  pic->ready = info->iBufferStatus == 1;
  if (!pic->ready) return;
  pic->y = dst[0];
  pic->u = dst[1];
  pic->v = dst[2];
  pic->ystride = info->UsrData.sSystemBuffer.iStride[0];
  pic->cstride = info->UsrData.sSystemBuffer.iStride[1];
  pic->width = info->UsrData.sSystemBuffer.iWidth;
  pic->height = info->UsrData.sSystemBuffer.iHeight;
}

static int edgerec_dec_decode(ISVCDecoder *d, const unsigned char *src, int len, edgerec_picture *pic) {
  unsigned char *dst[3] = {0, 0, 0};
  SBufferInfo info;
  memset(&info, 0, sizeof(info));
  DECODING_STATE st = (*d)->DecodeFrameNoDelay(d, src, len, dst, &info);
  fill(pic, dst, &info);
  return (int)st;
}

static int edgerec_dec_flush(ISVCDecoder *d, edgerec_picture *pic) {
  unsigned char *dst[3] = {0, 0, 0};
  SBufferInfo info;
  memset(&info, 0, sizeof(info));
  DECODING_STATE st = (*d)->FlushFrame(d, dst, &info);
  fill(pic, dst, &info);
  return (int)st;
}

static void edgerec_dec_job(void *p) {
  edgerec_dec *x = (edgerec_dec *)p;
  memset(&x->pic, 0, sizeof x->pic);
  if (x->flush)
    x->st = edgerec_dec_flush(x->d, &x->pic);
  else
    x->st = edgerec_dec_decode(x->d, x->src, x->len, &x->pic);
}

int edgerec_dec_submit(edgerec_dec *x, const unsigned char *src, int len, int flush) {
  x->src = src;
  x->len = len;
  x->flush = flush;
  return edgerec_worker_submit(&x->w, edgerec_dec_job, x);
}

void edgerec_dec_call(edgerec_dec *x, const unsigned char *src, int len, int flush) {
  x->src = src;
  x->len = len;
  x->flush = flush;
  edgerec_dec_job(x);
}
