/// How a sliding window (convolution or pooling) treats the border.
public enum Padding: Equatable, Sendable, CustomStringConvertible {
    /// No padding: `out = floor((in - effectiveKernel) / stride) + 1`.
    case valid
    /// Keras/TensorFlow 'same': `out = ceil(in / stride)`; the total padding
    /// `max((out - 1) * stride + effectiveKernel - in, 0)` is split with the extra pixel at the
    /// bottom/right (PyTorch's symmetric `padding=k//2` differs for stride 2 on even inputs).
    case same
    /// Explicit padding on each side (PyTorch's `padding=p` is `.explicit(p, p, p, p)`).
    case explicit(top: Int, bottom: Int, left: Int, right: Int)

    /// Symmetric explicit padding of `p` pixels on every side.
    public static func symmetric(_ p: Int) -> Padding { .explicit(top: p, bottom: p, left: p, right: p) }

    public var description: String {
        switch self {
        case .valid: return "valid"
        case .same: return "same"
        case let .explicit(t, b, l, r): return "[\(t),\(b),\(l),\(r)]"
        }
    }
}

/// The geometry of a 2-D sliding window over an NHWC input: resolved padding and output size.
public struct Window2D: Equatable, Sendable {
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    public var dilation: (h: Int, w: Int)
    /// Resolved padding: top, bottom, left, right.
    public var pad: (top: Int, bottom: Int, left: Int, right: Int)
    public var input: (h: Int, w: Int)
    public var output: (h: Int, w: Int)

    public static func == (a: Window2D, b: Window2D) -> Bool { a.key == b.key }

    /// Resolves `padding` for an `inputH`x`inputW` input; throws when the window does not fit.
    public init(op: String, input: (h: Int, w: Int), kernel: (h: Int, w: Int), stride: (h: Int, w: Int),
                dilation: (h: Int, w: Int) = (1, 1), padding: Padding) throws {
        guard kernel.h >= 1, kernel.w >= 1, stride.h >= 1, stride.w >= 1, dilation.h >= 1, dilation.w >= 1 else {
            throw EngineError.invalidArgument(op: op, reason: "kernel \(kernel), stride \(stride) and dilation \(dilation) must be positive")
        }
        self.kernel = kernel; self.stride = stride; self.dilation = dilation; self.input = input
        let effH = (kernel.h - 1) * dilation.h + 1, effW = (kernel.w - 1) * dilation.w + 1
        switch padding {
        case .valid:
            pad = (0, 0, 0, 0)
        case .same:
            let outH = (input.h + stride.h - 1) / stride.h, outW = (input.w + stride.w - 1) / stride.w
            let totalH = max((outH - 1) * stride.h + effH - input.h, 0)
            let totalW = max((outW - 1) * stride.w + effW - input.w, 0)
            pad = (totalH / 2, totalH - totalH / 2, totalW / 2, totalW - totalW / 2)
        case let .explicit(t, b, l, r):
            guard min(t, b, l, r) >= 0 else { throw EngineError.invalidArgument(op: op, reason: "negative padding \(padding)") }
            pad = (t, b, l, r)
        }
        let outH = (input.h + pad.top + pad.bottom - effH) / stride.h + 1
        let outW = (input.w + pad.left + pad.right - effW) / stride.w + 1
        guard input.h + pad.top + pad.bottom >= effH, input.w + pad.left + pad.right >= effW, outH >= 1, outW >= 1 else {
            throw EngineError.invalidArgument(op: op,
                reason: "a \(kernel.h)x\(kernel.w) window (dilation \(dilation.h)x\(dilation.w)) does not fit a \(input.h)x\(input.w) input with padding \(padding)")
        }
        output = (outH, outW)
    }

    /// A string that identifies the geometry, for primitive caches.
    var key: String {
        "k\(kernel.h)x\(kernel.w)s\(stride.h)x\(stride.w)d\(dilation.h)x\(dilation.w)p\(pad.top),\(pad.bottom),\(pad.left),\(pad.right)i\(input.h)x\(input.w)"
    }

    var dnnlStrides: [Int64] { [Int64(stride.h), Int64(stride.w)] }
    /// oneDNN counts dilation from 0 (0 = dense).
    var dnnlDilation: [Int64] { [Int64(dilation.h - 1), Int64(dilation.w - 1)] }
    var dnnlPadLeft: [Int64] { [Int64(pad.top), Int64(pad.left)] }
    var dnnlPadRight: [Int64] { [Int64(pad.bottom), Int64(pad.right)] }
}
