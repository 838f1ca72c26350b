/// Strided 1x1 convolutions, run as unit-stride ones on the sampled positions.
///
/// oneDNN 2.6's 1x1 kernels (`jit_1x1:avx2`, `jit_1x1:avx512_core`) implement a stride > 1
/// by first copying the strided input into a per-thread workspace ("reduce to unit
/// stride"). With NHWC data whose input channels are not a multiple of the ISA's channel
/// block (8 on AVX2, 16 on AVX-512), that copy writes past its thread's slice of the
/// workspace (oneDNN issue #6035): the backward-weights result then depends on which thread
/// finished first (wrong weight gradients in about one run in five on AVX2 with 2 threads)
/// or the process crashes (AVX-512, larger inputs). Graft never hands oneDNN a strided 1x1
/// convolution: a 1x1 window reads exactly one input pixel per output pixel, so the
/// convolution equals a unit-stride 1x1 convolution on those pixels, gathered here (zeros
/// where the window sits on padding); the input gradient is scattered back the same way.
struct StridedPointwise {
    let outer: Conv2DGeometry
    /// The same convolution on the gathered `[n, oh, ow, cin]` input, stride 1, no padding.
    let unit: Conv2DGeometry

    init?(_ g: Conv2DGeometry) {
        let w = g.window
        guard w.kernel == (1, 1), w.stride != (1, 1) else { return nil }
        outer = g
        let gathered = [g.input[0], w.output.h, w.output.w, g.input[3]]
        unit = try! Conv2DGeometry(input: gathered, kernel: g.kernel, groups: g.groups)
    }

    /// The input pixel row and column that output pixel (i, j) reads, or nil on padding.
    private func source(_ i: Int, _ j: Int) -> (row: Int, column: Int)? {
        let w = outer.window
        let row = i * w.stride.h - w.pad.top
        let column = j * w.stride.w - w.pad.left
        guard row >= 0, row < w.input.h, column >= 0, column < w.input.w else { return nil }
        return (row, column)
    }

    /// `x` `[n, h, w, c]` sampled at the window positions: `[n, oh, ow, c]`.
    func gather(_ x: Tensor) -> Tensor {
        var out = Tensor.zeros(unit.input)
        copyPixels(from: x, to: &out, gathering: true)
        return out
    }

    /// The inverse placement: `d` `[n, oh, ow, c]` written back to `[n, h, w, c]`, zeros at the
    /// pixels no window reads.
    func scatter(_ d: Tensor) -> Tensor {
        var out = Tensor.zeros(outer.input)
        copyPixels(from: d, to: &out, gathering: false)
        return out
    }

    private func copyPixels(from source: Tensor, to destination: inout Tensor, gathering: Bool) {
        let (n, oh, ow, c) = (unit.input[0], unit.input[1], unit.input[2], unit.input[3])
        let (h, w) = (outer.input[1], outer.input[2])
        source.withUnsafeBufferPointer { src in
            destination.withUnsafeMutableBufferPointer { dst in
                for b in 0..<n {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            guard let (row, column) = self.source(i, j) else { continue }
                            let sampled = ((b * oh + i) * ow + j) * c
                            let full = ((b * h + row) * w + column) * c
                            let (from, to) = gathering ? (full, sampled) : (sampled, full)
                            (dst.baseAddress! + to).update(from: src.baseAddress! + from, count: c)
                        }
                    }
                }
            }
        }
    }
}
