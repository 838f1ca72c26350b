#include "graft_kernels.h"

#include <math.h>

// Bit-identical results with the Swift code they replace: no fused multiply-adds.
#pragma STDC FP_CONTRACT OFF

// One xoshiro256** step on the locals s0..s3, leaving the draw in `out`. A macro, not a
// function: debug builds (-O0) inline nothing, and these loops run per tensor element.
#define ROTL(x, k) (((x) << (k)) | ((x) >> (64 - (k))))
#define XOSHIRO_NEXT(out)                  \
    do {                                   \
        uint64_t x1 = s1 * 5;              \
        (out) = ROTL(x1, 7) * 9;           \
        uint64_t t = s1 << 17;             \
        s2 ^= s0;                          \
        s3 ^= s1;                          \
        s1 ^= s2;                          \
        s0 ^= s3;                          \
        s2 ^= t;                           \
        s3 = ROTL(s3, 45);                 \
    } while (0)
#define LOAD_STATE(rng) uint64_t s0 = (rng)->s[0], s1 = (rng)->s[1], s2 = (rng)->s[2], s3 = (rng)->s[3]
#define STORE_STATE(rng) ((rng)->s[0] = s0, (rng)->s[1] = s1, (rng)->s[2] = s2, (rng)->s[3] = s3)
#define UNIFORM(draw) ((float)((draw) >> 40) * (1.0f / 16777216.0f))

uint64_t graft_rng_next(graft_rng *rng) {
    LOAD_STATE(rng);
    uint64_t draw;
    XOSHIRO_NEXT(draw);
    STORE_STATE(rng);
    return draw;
}

void graft_fill_uniform(graft_rng *rng, float *out, size_t count, float low, float high) {
    LOAD_STATE(rng);
    float range = high - low;
    for (size_t i = 0; i < count; i++) {
        uint64_t draw;
        XOSHIRO_NEXT(draw);
        out[i] = low + range * UNIFORM(draw);
    }
    STORE_STATE(rng);
}

void graft_fill_normal(graft_rng *rng, float *out, size_t count, float mean, float std) {
    size_t i = 0;
    if (rng->has_spare && count > 0) {
        out[i++] = mean + std * rng->spare;
        rng->has_spare = 0;
    }
    LOAD_STATE(rng);
    while (i < count) {
        uint64_t a, b;
        XOSHIRO_NEXT(a);
        XOSHIRO_NEXT(b);
        // u1 in (0, 1] so that log(u1) is finite.
        double u1 = 1 - (double)(a >> 11) * (1.0 / 9007199254740992.0);
        double u2 = (double)(b >> 11) * (1.0 / 9007199254740992.0);
        double radius = sqrt(-2 * log(u1));
        double angle = 2 * M_PI * u2;
        float first = (float)(radius * cos(angle));
        float second = (float)(radius * sin(angle));
        out[i++] = mean + std * first;
        if (i < count) {
            out[i++] = mean + std * second;
        } else {
            rng->spare = second;
            rng->has_spare = 1;
        }
    }
    STORE_STATE(rng);
}

void graft_fill_bernoulli(graft_rng *rng, float *out, size_t count, float p) {
    LOAD_STATE(rng);
    for (size_t i = 0; i < count; i++) {
        uint64_t draw;
        XOSHIRO_NEXT(draw);
        out[i] = UNIFORM(draw) < p ? 1.0f : 0.0f;
    }
    STORE_STATE(rng);
}
