/// Median pooling over NHWC `[n, h, w, c]` windows (the lecture notes: pooling "typically uses
/// max; other possible operations: mean, median"). Each output is the lower median of the
/// window's real cells (for an even count, the smaller of the two middle values, as
/// `torch.median`); padded cells are left out, as average pooling leaves them out. The
/// gradient goes to the chosen cell, as max pooling's goes to the maximum.
extension Kernels {
    /// The medians and, for the backward pass, the flat input index each one came from.
    public static func medianPool2d(_ x: Tensor, window g: Window2D) -> (output: Tensor, sources: [Int32]) {
        ensure(
            x.rank == 4 && (x.shape[1], x.shape[2]) == g.input,
            "medianPool2d: input \(x.shape) differs from the window's \(g.input)")
        KernelStats.record("medianPool2D.forward")
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = g.output
        var y = Tensor.uninitialized([n, oh, ow, c])
        var sources = [Int32](repeating: 0, count: n * oh * ow * c)
        var cells: [(value: Float, index: Int)] = []
        cells.reserveCapacity(g.kernel.h * g.kernel.w)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                for b in 0..<n {
                    for i in 0..<oh {
                        for j in 0..<ow {
                            for channel in 0..<c {
                                cells.removeAll(keepingCapacity: true)
                                for di in 0..<g.kernel.h {
                                    let row = i * g.stride.h + di * g.dilation.h - g.pad.top
                                    guard row >= 0 && row < h else { continue }
                                    for dj in 0..<g.kernel.w {
                                        let column = j * g.stride.w + dj * g.dilation.w - g.pad.left
                                        guard column >= 0 && column < w else { continue }
                                        let index = ((b * h + row) * w + column) * c + channel
                                        cells.append((px[index], index))
                                    }
                                }
                                cells.sort { $0.value < $1.value || ($0.value == $1.value && $0.index < $1.index) }
                                let median = cells[(cells.count - 1) / 2]
                                let out = ((b * oh + i) * ow + j) * c + channel
                                py[out] = median.value
                                sources[out] = Int32(median.index)
                            }
                        }
                    }
                }
            }
        }
        return (y, sources)
    }

    /// The backward of `medianPool2d`: each output's gradient added to the cell it came from.
    public static func medianPool2dBackward(_ dy: Tensor, sources: [Int32], inputShape: [Int]) -> Tensor {
        ensure(dy.count == sources.count, "medianPool2d backward: \(dy.count) gradients for \(sources.count) outputs")
        KernelStats.record("medianPool2D.backward")
        var dx = Tensor.zeros(inputShape)
        dx.withUnsafeMutableBufferPointer { pdx in
            dy.withUnsafeBufferPointer { pdy in
                for (out, source) in sources.enumerated() { pdx[Int(source)] += pdy[out] }
            }
        }
        return dx
    }
}
