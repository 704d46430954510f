#include <stdlib.h>
#include <string.h>
#include "encoder_c.h"

int edgerec_enc_new(edgerec_enc_opts o, edgerec_enc **out) {
  ISVCEncoder *e = NULL;
  if (WelsCreateSVCEncoder(&e) != 0 || e == NULL) return -1;
  SEncParamExt p;
  if ((*e)->GetDefaultParams(e, &p) != 0) {
    WelsDestroySVCEncoder(e);
    return -2;
  }
  p.iUsageType = CAMERA_VIDEO_REAL_TIME;
  p.iPicWidth = o.width;
  p.iPicHeight = o.height;
  p.iTargetBitrate = o.bitrate;
  p.iMaxBitrate = o.bitrate;
  p.iRCMode = RC_BITRATE_MODE;
  p.fMaxFrameRate = o.fps;
  p.bEnableFrameSkip = false; /* a recorder keeps every picture */
  p.uiIntraPeriod = (unsigned int)o.intra_period;
  p.iMultipleThreadIdc = (unsigned short)o.threads;
  p.iComplexityMode = (ECOMPLEXITY_MODE)o.complexity;
  p.bEnableBackgroundDetection = o.background != 0;
  p.iLoopFilterDisableIdc = o.loop_filter;
  /* Not needed by a recorder that sets its own IDRs and keeps masked
     macroblocks flat; each costs CPU on every picture (issue 14, see doc.go). */
  p.bEnableSceneChangeDetect = false;
  p.bEnableAdaptiveQuant = false;
  p.sSpatialLayers[0].iVideoWidth = o.width;
  p.sSpatialLayers[0].iVideoHeight = o.height;
  p.sSpatialLayers[0].fFrameRate = o.fps;
  p.sSpatialLayers[0].iSpatialBitrate = o.bitrate;
  p.sSpatialLayers[0].iMaxSpatialBitrate = o.bitrate;
  p.sSpatialLayers[0].sSliceArgument.uiSliceMode = SM_SINGLE_SLICE;
  p.sSpatialLayers[0].sSliceArgument.uiSliceNum = 1;
  int level = WELS_LOG_ERROR;
  (*e)->SetOption(e, ENCODER_OPTION_TRACE_LEVEL, &level);
  if ((*e)->InitializeExt(e, &p) != 0) {
    WelsDestroySVCEncoder(e);
    return -3;
  }
  edgerec_enc *x = (edgerec_enc *)calloc(1, sizeof(edgerec_enc));
  if (x == NULL) {
    (*e)->Uninitialize(e);
    WelsDestroySVCEncoder(e);
    return -4;
  }
  x->e = e;
  if (edgerec_worker_start(&x->w) != 0) {
    (*e)->Uninitialize(e);
    WelsDestroySVCEncoder(e);
    free(x);
    return -5;
  }
  *out = x;
  return 0;
}

void edgerec_enc_free(edgerec_enc *x) {
  if (x == NULL) return;
  edgerec_worker_stop(&x->w);
  (*x->e)->Uninitialize(x->e);
  WelsDestroySVCEncoder(x->e);
  free(x->buf);
  free(x);
}

static int edgerec_enc_encode(edgerec_enc *x, unsigned char *y, unsigned char *u, unsigned char *v,
                              int w, int h, long long ts_ms, unsigned char **out, int *len) {
  SSourcePicture pic;
  SFrameBSInfo info;
  memset(&pic, 0, sizeof(pic));
  memset(&info, 0, sizeof(info));
  pic.iPicWidth = w;
  pic.iPicHeight = h;
  pic.iColorFormat = videoFormatI420;
  pic.iStride[0] = w;
  pic.iStride[1] = pic.iStride[2] = w / 2;
  pic.pData[0] = y;
  pic.pData[1] = u;
  pic.pData[2] = v;
  pic.uiTimeStamp = ts_ms;
  *out = NULL;
  *len = 0;
  int rv = (*x->e)->EncodeFrame(x->e, &pic, &info);
  if (rv != 0) return rv;
  if (info.eFrameType == videoFrameTypeSkip) return 0;
  int size = 0;
  for (int l = 0; l < info.iLayerNum; l++)
    for (int i = 0; i < info.sLayerInfo[l].iNalCount; i++) size += info.sLayerInfo[l].pNalLengthInByte[i];
  if (size > x->cap) {
    unsigned char *b = (unsigned char *)realloc(x->buf, size);
    if (b == NULL) return -1;
    x->buf = b;
    x->cap = size;
  }
  int off = 0;
  for (int l = 0; l < info.iLayerNum; l++) {
    int n = 0;
    for (int i = 0; i < info.sLayerInfo[l].iNalCount; i++) n += info.sLayerInfo[l].pNalLengthInByte[i];
    memcpy(x->buf + off, info.sLayerInfo[l].pBsBuf, n);
    off += n;
  }
  *out = x->buf;
  *len = size;
  return 0;
}

static void edgerec_enc_job(void *p) {
  edgerec_enc *x = (edgerec_enc *)p;
  if (x->force_idr) (*x->e)->ForceIntraFrame(x->e, true);
  x->out = NULL;
  x->len = 0;
  x->rv = edgerec_enc_encode(x, x->y, x->u, x->v, x->width, x->height, x->ts_ms, &x->out, &x->len);
  x->y = x->u = x->v = NULL;
}

int edgerec_enc_submit(edgerec_enc *x, unsigned char *y, unsigned char *u, unsigned char *v,
                       int w, int h, long long ts_ms, int force_idr) {
  x->y = y;
  x->u = u;
  x->v = v;
  x->width = w;
  x->height = h;
  x->ts_ms = ts_ms;
  x->force_idr = force_idr;
  return edgerec_worker_submit(&x->w, edgerec_enc_job, x);
}
