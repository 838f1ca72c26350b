import Engine

/// Max or average pooling over NHWC windows (`MaxPool2D`, `AvgPool2D`).
public class Pool2D: Module {
    public let kind: Pool2DGeometry.Kind
    public let pool: (Int, Int), stride: (Int, Int), padding: Padding

    init(_ kind: Pool2DGeometry.Kind, pool: Int, stride: Int?, padding: Padding) {
        self.kind = kind
        self.pool = (pool, pool)
        self.stride = (stride ?? pool, stride ?? pool)
        self.padding = padding
    }

    public override func forward(_ x: Variable) -> Variable {
        kind == .max
            ? maxPool2d(x, pool: pool, stride: stride, padding: padding)
            : avgPool2d(x, pool: pool, stride: stride, padding: padding)
    }

    public override var summary: String {
        "\(kind == .max ? "MaxPool2D" : "AvgPool2D")(\(pool.0)x\(pool.1), stride \(stride.0), \(padding))"
    }
}

/// Max pooling; padded cells count as -infinity. The stride defaults to the pool size.
public final class MaxPool2D: Pool2D {
    public init(_ pool: Int = 2, stride: Int? = nil, padding: Padding = .valid) {
        super.init(.max, pool: pool, stride: stride, padding: padding)
    }
}

/// Median pooling (the lecture notes' third pooling operation after max and mean): the lower
/// median of each window's real cells, padded cells left out. The stride defaults to the pool size.
public final class MedianPool2D: Module {
    /// The window (height, width).
    public let pool: (Int, Int)
    /// The step between windows (height, width).
    public let stride: (Int, Int)
    /// Valid, same (TensorFlow's rule) or explicit padding; padded cells never count.
    public let padding: Padding

    /// A `pool`x`pool` median pool, stepping `stride` (default: `pool`).
    public init(_ pool: Int = 2, stride: Int? = nil, padding: Padding = .valid) {
        self.pool = (pool, pool)
        self.stride = (stride ?? pool, stride ?? pool)
        self.padding = padding
    }

    /// `medianPool2d` of NHWC `x`.
    public override func forward(_ x: Variable) -> Variable {
        medianPool2d(x, pool: pool, stride: stride, padding: padding)
    }

    /// `MedianPool2D(3x3, stride 1, same)`.
    public override var summary: String { "MedianPool2D(\(pool.0)x\(pool.1), stride \(stride.0), \(padding))" }
}

/// Average pooling; padded cells are left out of each average (Keras).
public final class AvgPool2D: Pool2D {
    public init(_ pool: Int = 2, stride: Int? = nil, padding: Padding = .valid) {
        super.init(.average, pool: pool, stride: stride, padding: padding)
    }
}

/// The mean over height and width: `[n, h, w, c] -> [n, c]`.
public final class GlobalAvgPool: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { globalAvgPool(x) }
}

/// The maximum over height and width: `[n, h, w, c] -> [n, c]`.
public final class GlobalMaxPool: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { globalMaxPool(x) }
}

/// `[n, ...] -> [n, product]`, in NHWC order (h, then w, then c).
public final class Flatten: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { x.flattenedBatch() }
}

/// Zero padding of height and width (Keras ZeroPadding2D).
public final class ZeroPadding2D: Module {
    public let top: Int, bottom: Int, left: Int, right: Int

    public init(top: Int, bottom: Int, left: Int, right: Int) {
        self.top = top
        self.bottom = bottom
        self.left = left
        self.right = right
    }

    public convenience init(_ p: Int) { self.init(top: p, bottom: p, left: p, right: p) }

    public override func forward(_ x: Variable) -> Variable {
        zeroPad2d(x, top: top, bottom: bottom, left: left, right: right)
    }

    public override var summary: String { "ZeroPadding2D(\(top), \(bottom), \(left), \(right))" }
}
