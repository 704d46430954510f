#include <string.h>
#include "decoder_c.h"

int edgerec_dec_new(ISVCDecoder **out) {
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

void edgerec_dec_free(ISVCDecoder *d) {
  if (d == NULL) return;
  (*d)->Uninitialize(d);
  WelsDestroyDecoder(d);
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

int edgerec_dec_decode(ISVCDecoder *d, const unsigned char *src, int len, edgerec_picture *pic) {
  unsigned char *dst[3] = {0, 0, 0};
  SBufferInfo info;
  memset(&info, 0, sizeof(info));
  DECODING_STATE st = (*d)->DecodeFrameNoDelay(d, src, len, dst, &info);
  fill(pic, dst, &info);
  return (int)st;
}

int edgerec_dec_flush(ISVCDecoder *d, edgerec_picture *pic) {
  unsigned char *dst[3] = {0, 0, 0};
  SBufferInfo info;
  memset(&info, 0, sizeof(info));
  DECODING_STATE st = (*d)->FlushFrame(d, dst, &info);
  fill(pic, dst, &info);
  return (int)st;
}
