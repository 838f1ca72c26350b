#include "graft_kernels.h"

#include <string.h>

/* Image patches of an NHWC tensor as matrix rows (im2col): row (b, i, j) holds the
   kh x kw window under output pixel (i, j) of image b, ordered (ky, kx, channel) like an
   HWIO kernel's first three axes; taps on the padding are zeros. */
void graft_patches(const float *x, float *out, graft_window g) {
    int n = g.n, h = g.h, w = g.w, c = g.c, kh = g.kh, kw = g.kw, oh = g.oh, ow = g.ow;
    int stride_h = g.stride_h, stride_w = g.stride_w, pad_top = g.pad_top, pad_left = g.pad_left;
    size_t depth = (size_t)kh * kw * c;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                float *row = out + (((size_t)b * oh + i) * ow + j) * depth;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int y = i * stride_h + ky - pad_top, xx = j * stride_w + kx - pad_left;
                        float *tap = row + ((size_t)ky * kw + kx) * c;
                        if (y >= 0 && y < h && xx >= 0 && xx < w)
                            memcpy(tap, x + (((size_t)b * h + y) * w + xx) * c, sizeof(float) * c);
                        else
                            memset(tap, 0, sizeof(float) * c);
                    }
            }
}

/* The adjoint of graft_patches (col2im): adds every tap of every row back onto the input
   pixel it was read from. `dx` must hold zeros (or what to add to) on entry. */
void graft_patches_add_back(const float *patches, float *dx, graft_window g) {
    int n = g.n, h = g.h, w = g.w, c = g.c, kh = g.kh, kw = g.kw, oh = g.oh, ow = g.ow;
    int stride_h = g.stride_h, stride_w = g.stride_w, pad_top = g.pad_top, pad_left = g.pad_left;
    size_t depth = (size_t)kh * kw * c;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                const float *row = patches + (((size_t)b * oh + i) * ow + j) * depth;
                for (int ky = 0; ky < kh; ky++)
                    for (int kx = 0; kx < kw; kx++) {
                        int y = i * stride_h + ky - pad_top, xx = j * stride_w + kx - pad_left;
                        if (y < 0 || y >= h || xx < 0 || xx >= w) continue;
                        const float *tap = row + ((size_t)ky * kw + kx) * c;
                        float *pixel = dx + (((size_t)b * h + y) * w + xx) * c;
                        for (int k = 0; k < c; k++) pixel[k] += tap[k];
                    }
            }
}
