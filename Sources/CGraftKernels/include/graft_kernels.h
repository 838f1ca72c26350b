// Graft's own hot loops, in C: SwiftPM compiles a dependency's Swift at -Onone in debug
// builds (and allows no flags to change that for packages used by version), where
// element-by-element Swift loops run 20-50x slower than optimised; C at -O0 stays within a
// few times of optimised. Each function states the Swift code it must match bit for bit.
#ifndef GRAFT_KERNELS_H
#define GRAFT_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/// xoshiro256** state and the spare normal of the Box-Muller pair (RandomGenerator).
typedef struct {
    uint64_t s[4];
    float spare;
    int has_spare;
} graft_rng;

/// The next 64-bit draw (RandomGenerator.next).
uint64_t graft_rng_next(graft_rng *rng);

/// out[i] = low + (high - low) * u, u = (next >> 40) * 2^-24 (RandomGenerator.nextUniform).
void graft_fill_uniform(graft_rng *rng, float *out, size_t count, float low, float high);

/// out[i] = mean + std * z with z from Box-Muller, both results of each pair used in order
/// cos, sin, the spare carried across calls (RandomGenerator.nextNormal).
void graft_fill_normal(graft_rng *rng, float *out, size_t count, float mean, float std);

/// out[i] = 1 when u < p, else 0 (Tensor.randomBernoulli).
void graft_fill_bernoulli(graft_rng *rng, float *out, size_t count, float p);

/// SIGINT and SIGTERM: the first sets the interrupt count (the training loop polls it and
/// stops cleanly after the current batch), a second exits at once with status 130. A signal
/// handler can do little safely, so this lives in C: it only increments a sig_atomic_t and,
/// the second time, calls _exit.
void graft_interrupts_install(void);
/// Signals received since installing (or the last reset).
int graft_interrupts_count(void);
void graft_interrupts_reset(void);

/// glibc's mmap and trim thresholds (see MemoryPolicy.swift): blocks below `mmap_threshold`
/// come from and return to the heap's free lists instead of fresh kernel pages.
void graft_keep_freed_memory(size_t mmap_threshold, size_t trim_threshold);

/// The geometry of a 2-D window over an NHWC batch: input [n, h, w, c], kernel kh x kw,
/// strides, the top and left padding, and the output size oh x ow.
typedef struct {
    int n, h, w, c, kh, kw, stride_h, stride_w, pad_top, pad_left, oh, ow;
} graft_window;

/// im2col for NHWC input: rows (image, output row, output column), columns (ky, kx, channel).
void graft_patches(const float *x, float *out, graft_window g);
/// The adjoint (col2im): adds each patch tap back onto its input pixel of dx.
void graft_patches_add_back(const float *patches, float *dx, graft_window g);

#endif
