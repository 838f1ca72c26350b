import Foundation

// Differentiable arithmetic with broadcasting, matrix products and pointwise maths.

extension Variable {
    private static func binary(_ op: String, _ a: Variable, _ b: Variable,
                               _ f: (Float, Float) -> Float,
                               grads: @escaping (Tensor) -> (Tensor?, Tensor?)) -> Variable {
        let value = require { try Tensor.broadcasting(a.value, b.value, op: op, f) }
        return record(op, [a, b], value: value) { g in
            let (ga, gb) = grads(g)
            return [ga?.sumReduced(toShape: a.shape), gb?.sumReduced(toShape: b.shape)]
        }
    }

    public static func + (a: Variable, b: Variable) -> Variable {
        binary("add", a, b, +) { g in (a.requiresGrad ? g : nil, b.requiresGrad ? g : nil) }
    }

    public static func - (a: Variable, b: Variable) -> Variable {
        binary("sub", a, b, -) { g in (a.requiresGrad ? g : nil, b.requiresGrad ? -g : nil) }
    }

    public static func * (a: Variable, b: Variable) -> Variable {
        binary("mul", a, b, *) { g in (a.requiresGrad ? g * b.value : nil, b.requiresGrad ? g * a.value : nil) }
    }

    public static func / (a: Variable, b: Variable) -> Variable {
        binary("div", a, b, /) { g in
            (a.requiresGrad ? g / b.value : nil,
             b.requiresGrad ? -(g * a.value) / b.value.squared() : nil)
        }
    }

    public static func + (a: Variable, s: Float) -> Variable { a.pointwise("addScalar", { $0 + s }, derivative: { _, _ in 1 }) }
    public static func - (a: Variable, s: Float) -> Variable { a + (-s) }
    public static func * (a: Variable, s: Float) -> Variable { a.pointwise("mulScalar", { $0 * s }, derivative: { _, _ in s }) }
    public static func * (s: Float, a: Variable) -> Variable { a * s }
    public static func / (a: Variable, s: Float) -> Variable { a * (1 / s) }
    public static prefix func - (a: Variable) -> Variable { a * -1 }

    /// A pointwise function with its derivative `derivative(x, y)` in terms of input and output.
    func pointwise(_ op: String, _ f: (Float) -> Float, derivative: @escaping (Float, Float) -> Float) -> Variable {
        let x = value
        let y = x.map(f)
        return Variable.record(op, [self], value: y) { g in
            [x.withUnsafeBufferPointer { px in
                y.withUnsafeBufferPointer { py in
                    g.withUnsafeBufferPointer { pg in
                        Tensor(shape: x.shape) { d in for i in d.indices { d[i] = pg[i] * derivative(px[i], py[i]) } }
                    }
                }
            }]
        }
    }

    public func exp() -> Variable { pointwise("exp", { Foundation.exp($0) }, derivative: { _, y in y }) }
    public func log() -> Variable { pointwise("log", { Foundation.log($0) }, derivative: { x, _ in 1 / x }) }
    public func squared() -> Variable { pointwise("square", { $0 * $0 }, derivative: { x, _ in 2 * x }) }
    public func sqrt() -> Variable { pointwise("sqrt", { $0.squareRoot() }, derivative: { _, y in 0.5 / y }) }
    /// |x|, with derivative sign(x) (0 at 0, as PyTorch).
    public func abs() -> Variable { pointwise("abs", { Swift.abs($0) }, derivative: { x, _ in x > 0 ? 1 : (x < 0 ? -1 : 0) }) }
    public func pow(_ p: Float) -> Variable {
        pointwise("pow", { Foundation.pow($0, p) }, derivative: { x, _ in p * Foundation.pow(x, p - 1) })
    }
}

/// `a · b` for matrices `[m, k] · [k, n]` (oneDNN sgemm).
public func matmul(_ a: Variable, _ b: Variable) -> Variable {
    let y = Kernels.matmul(a.value, b.value)
    return Variable.record("matmul", [a, b], value: y) { g in
        [a.requiresGrad ? Kernels.matmul(g, b.value, transposeB: true) : nil,
         b.requiresGrad ? Kernels.matmul(a.value, g, transposeA: true) : nil]
    }
}

/// A fully connected layer: `x · w + b` with `x: [n, in]`, `w: [in, out]` (Keras layout),
/// `b: [out]` (oneDNN inner product).
public func linear(_ x: Variable, _ w: Variable, bias b: Variable? = nil) -> Variable {
    let y = Kernels.linear(x.value, w.value, bias: b?.value)
    let inputs = [x, w] + (b.map { [$0] } ?? [])
    return Variable.record("linear", inputs, value: y) { g in
        let dx = x.requiresGrad ? Kernels.linearBackwardData(g, w.value) : nil
        var grads: [Tensor?] = [dx, nil]
        if w.requiresGrad || (b?.requiresGrad ?? false) {
            let (dw, db) = Kernels.linearBackwardWeights(x.value, g, bias: b != nil)
            grads[1] = dw
            if b != nil { grads.append(db) }
        } else if b != nil {
            grads.append(nil)
        }
        return grads
    }
}
