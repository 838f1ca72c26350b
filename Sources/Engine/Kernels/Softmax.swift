import Foundation

extension Kernels {
    /// Splits `shape` around `axis` into (outer, n, inner) for the per-slice loops below.
    private static func slices(_ shape: [Int], axis: Int, op: String) -> (outer: Int, n: Int, inner: Int) {
        let ax = require { try Shape.normalise(axis: axis, shape: shape, op: op) }
        return (shape[..<ax].product, shape[ax], shape[(ax + 1)...].product)
    }

    /// `exp(x - max) / sum(exp(x - max))` along `axis` (stable: the max is subtracted first).
    /// With `log`, the log-softmax `x - max - log(sum(exp(x - max)))`.
    public static func softmax(_ x: Tensor, axis: Int = -1, log: Bool = false) -> Tensor {
        let op = log ? "logSoftmax" : "softmax"
        KernelStats.record("\(op).forward")
        let (outer, n, inner) = slices(x.shape, axis: axis, op: op)
        return x.withUnsafeBufferPointer { src in
            Tensor(shape: x.shape) { dst in
                for o in 0..<outer {
                    for i in 0..<inner {
                        let base = o * n * inner + i
                        var m = -Float.infinity
                        for k in 0..<n { m = Swift.max(m, src[base + k * inner]) }
                        var total: Float = 0
                        for k in 0..<n { total += Foundation.exp(src[base + k * inner] - m) }
                        if log {
                            let logTotal = Foundation.log(total)
                            for k in 0..<n { dst[base + k * inner] = src[base + k * inner] - m - logTotal }
                        } else {
                            for k in 0..<n { dst[base + k * inner] = Foundation.exp(src[base + k * inner] - m) / total }
                        }
                    }
                }
            }
        }
    }

    /// Softmax backward from its output `y`: `y * (dy - sum(dy * y))`; for log-softmax,
    /// `dy - exp(y) * sum(dy)`.
    public static func softmaxBackward(_ dy: Tensor, y: Tensor, axis: Int = -1, log: Bool = false) -> Tensor {
        let op = log ? "logSoftmax" : "softmax"
        KernelStats.record("\(op).backward")
        let (outer, n, inner) = slices(y.shape, axis: axis, op: op)
        return y.withUnsafeBufferPointer { py in
            dy.withUnsafeBufferPointer { pg in
                Tensor(shape: y.shape) { dst in
                    for o in 0..<outer {
                        for i in 0..<inner {
                            let base = o * n * inner + i
                            var dot: Float = 0
                            for k in 0..<n { dot += log ? pg[base + k * inner] : pg[base + k * inner] * py[base + k * inner] }
                            for k in 0..<n {
                                let j = base + k * inner
                                dst[j] = log ? pg[j] - Foundation.exp(py[j]) * dot : py[j] * (pg[j] - dot)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Inverted dropout (Srivastava et al., 2014): a mask that keeps each element with
    /// probability `1 - rate` and scales kept elements by `1 / (1 - rate)`, so inference
    /// needs no rescaling. Apply it as `x * mask`.
    public static func dropoutMask(shape: [Int], rate: Float, using rng: inout RandomGenerator) -> Tensor {
        ensure(rate >= 0 && rate < 1, "dropout: rate \(rate) must be in [0, 1)")
        KernelStats.record("dropout.forward")
        let keep = 1 - rate, scale = 1 / keep
        return Tensor(shape: shape) { dst in
            for i in dst.indices { dst[i] = rng.nextUniform() < keep ? scale : 0 }
        }
    }
}
