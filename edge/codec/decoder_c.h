#ifndef EDGEREC_DECODER_C_H
#define EDGEREC_DECODER_C_H
#include <openh264/codec_api.h>

typedef struct edgerec_picture {
  unsigned char *y, *u, *v;
  int ystride, cstride;
  int width, height;
  int ready;
} edgerec_picture;

int edgerec_dec_new(ISVCDecoder **out);
void edgerec_dec_free(ISVCDecoder *d);
int edgerec_dec_decode(ISVCDecoder *d, const unsigned char *src, int len, edgerec_picture *pic);
int edgerec_dec_flush(ISVCDecoder *d, edgerec_picture *pic);
#endif
