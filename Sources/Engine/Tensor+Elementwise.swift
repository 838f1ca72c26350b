import Foundation

// Elementwise arithmetic with NumPy broadcasting. The operators trap with a message naming
// the op and both shapes; `Tensor.broadcasting(_:_:op:_:)` is the throwing form.

extension Tensor {
    /// Applies `f` to every element.
    /// Large tensors are split over `Threads.count` threads; `f` must be pure.
    public func map(_ f: (Float) -> Float) -> Tensor {
        withUnsafeBufferPointer { src in
            Tensor(shape: shape) { dst in
                Threads.parallelFor(dst.count) { range in
                    for i in range { dst[i] = f(src[i]) }
                }
            }
        }
    }

    /// Combines two tensors of one shape elementwise.
    public func zipMap(_ other: Tensor, op: String = "zipMap", _ f: (Float, Float) -> Float) -> Tensor {
        guard shape == other.shape else {
            EngineError.shapeMismatch(op: op, shapes: [shape, other.shape], reason: "elementwise operands must have equal shapes").trap()
        }
        return withUnsafeBufferPointer { a in
            other.withUnsafeBufferPointer { b in
                Tensor(shape: shape) { dst in
                    Threads.parallelFor(dst.count) { range in
                        for i in range { dst[i] = f(a[i], b[i]) }
                    }
                }
            }
        }
    }

    /// `f(a, b)` elementwise over the NumPy broadcast of the two shapes.
    public static func broadcasting(_ a: Tensor, _ b: Tensor, op: String,
                                    _ f: (Float, Float) -> Float) throws -> Tensor {
        if a.shape == b.shape { return a.zipMap(b, op: op, f) }
        let outShape = try Shape.broadcast(a.shape, b.shape, op: op)
        if b.count == 1 {
            let s = b.scalars[0]
            return a.map { f($0, s) }.reshaped(outShape)
        }
        if a.count == 1 {
            let s = a.scalars[0]
            return b.map { f(s, $0) }.reshaped(outShape)
        }
        let rank = outShape.count
        // Strides of each operand in the output's index space; 0 along broadcast axes.
        func stridesIn(_ shape: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: rank - shape.count) + shape
            let own = Shape.strides(padded)
            return (0..<rank).map { padded[$0] == 1 ? 0 : own[$0] }
        }
        let sa = stridesIn(a.shape), sb = stridesIn(b.shape)
        let inner = outShape[rank - 1]
        let innerA = sa[rank - 1], innerB = sb[rank - 1]
        let outer = outShape.product / Swift.max(inner, 1)
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                Tensor(shape: outShape) { dst in
                    var index = [Int](repeating: 0, count: rank)
                    var offA = 0, offB = 0, o = 0
                    for _ in 0..<outer {
                        var ia = offA, ib = offB
                        for _ in 0..<inner {
                            dst[o] = f(pa[ia], pb[ib])
                            o += 1; ia += innerA; ib += innerB
                        }
                        // Advance the odometer over the outer axes.
                        var axis = rank - 2
                        while axis >= 0 {
                            index[axis] += 1
                            offA += sa[axis]; offB += sb[axis]
                            if index[axis] < outShape[axis] { break }
                            offA -= sa[axis] * outShape[axis]; offB -= sb[axis] * outShape[axis]
                            index[axis] = 0
                            axis -= 1
                        }
                    }
                }
            }
        }
    }

    /// Sums a broadcast result back down to `target`, the shape of one operand: the
    /// gradient rule of broadcasting.
    public func sumReduced(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let lead = rank - target.count
        ensure(lead >= 0, "sumReduced: \(shape) cannot reduce to the larger shape \(target)")
        var axes = Array(0..<lead)
        for (i, extent) in target.enumerated() where extent == 1 && shape[lead + i] != 1 {
            axes.append(lead + i)
        }
        return sum(axes: axes, keepDims: false).reshaped(target)
    }

    public static func + (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, .add) }
    public static func - (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, .subtract) }
    public static func * (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, .multiply) }
    public static func / (a: Tensor, b: Tensor) -> Tensor { arithmetic(a, b, .divide) }

    public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
    public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
    public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
    public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
    public static func * (s: Float, a: Tensor) -> Tensor { a.map { s * $0 } }
    public static prefix func - (a: Tensor) -> Tensor { a.map { -$0 } }

    public static func += (a: inout Tensor, b: Tensor) { a.add(b) }
    public static func -= (a: inout Tensor, b: Tensor) { a.add(b, scale: -1) }
    public static func *= (a: inout Tensor, s: Float) { a.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= s } } }

    /// In place `self += scale * other` for equal shapes (the accumulation used by autodiff
    /// and optimisers).
    public mutating func add(_ other: Tensor, scale: Float = 1) {
        guard shape == other.shape else {
            EngineError.shapeMismatch(op: "add (in place)", shapes: [shape, other.shape], reason: "in-place accumulation needs equal shapes").trap()
        }
        other.withUnsafeBufferPointer { src in
            withUnsafeMutableBufferPointer { dst in
                Threads.parallelFor(dst.count) { range in
                    for i in range { dst[i] += scale * src[i] }
                }
            }
        }
    }

    public func squared() -> Tensor { map { $0 * $0 } }
    public func sqrt() -> Tensor { map { $0.squareRoot() } }
    public func exp() -> Tensor { map { Foundation.exp($0) } }
    public func log() -> Tensor { map { Foundation.log($0) } }
    public func abs() -> Tensor { map { Swift.abs($0) } }
    public func clamped(_ low: Float, _ high: Float) -> Tensor { map { Swift.min(Swift.max($0, low), high) } }

    /// Whether any element is NaN or infinite.
    public var hasNonFinite: Bool { nonFiniteCount > 0 }

    /// The number of NaN or infinite elements.
    public var nonFiniteCount: Int {
        withUnsafeBufferPointer { p in
            var n = 0
            for v in p where !v.isFinite { n += 1 }
            return n
        }
    }

    /// True when the shapes agree and every element is within `atol + rtol * |other|`.
    public func isClose(to other: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6) -> Bool {
        guard shape == other.shape else { return false }
        for (a, b) in zip(scalars, other.scalars) where !(Swift.abs(a - b) <= atol + rtol * Swift.abs(b)) { return false }
        return true
    }
}

/// The four arithmetic operators. Operands of one shape (a residual add, a gradient sum) get a
/// plain loop per operator, which the compiler vectorises; a closure called per element, as
/// `zipMap` and broadcasting take, does not.
enum Arithmetic {
    case add, subtract, multiply, divide

    var name: String {
        switch self {
        case .add: return "add"
        case .subtract: return "sub"
        case .multiply: return "mul"
        case .divide: return "div"
        }
    }

    var function: (Float, Float) -> Float {
        switch self {
        case .add: return (+)
        case .subtract: return (-)
        case .multiply: return (*)
        case .divide: return (/)
        }
    }
}

extension Tensor {
    /// `a op b`, NumPy-broadcast when the shapes differ.
    static func arithmetic(_ a: Tensor, _ b: Tensor, _ op: Arithmetic) -> Tensor {
        guard a.shape == b.shape else { return require { try broadcasting(a, b, op: op.name, op.function) } }
        return a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                Tensor(shape: a.shape) { out in
                    Threads.parallelFor(out.count) { range in
                        switch op {
                        case .add: for i in range { out[i] = pa[i] + pb[i] }
                        case .subtract: for i in range { out[i] = pa[i] - pb[i] }
                        case .multiply: for i in range { out[i] = pa[i] * pb[i] }
                        case .divide: for i in range { out[i] = pa[i] / pb[i] }
                        }
                    }
                }
            }
        }
    }
}
