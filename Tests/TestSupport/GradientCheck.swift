import Engine
import XCTest

/// Compares autodiff gradients with central differences of `L = sum(f(inputs) * upstream)`.
///
/// Forward passes run in Float32, so the step is large (`eps = 1e-2` by default) and the
/// tolerance is `|numeric - analytic| <= atol + rtol * |analytic|` with `rtol = 1e-2`,
/// `atol = 2e-3` unless a test states otherwise. Each input listed in `differentiable`
/// becomes a leaf with `requiresGrad`; the others are constants.
public func checkGradients(_ name: String, inputs: [String: Tensor], differentiable: [String], upstream: Tensor? = nil,
                           eps: Float = 1e-2, rtol: Float = 1e-2, atol: Float = 2e-3,
                           file: StaticString = #filePath, line: UInt = #line,
                           _ f: ([String: Variable]) -> Variable) {
    checkGradients(name, inputs: inputs, differentiable: differentiable, upstream: upstream, eps: eps, rtol: rtol, atol: atol,
                   file: file, line: line) { values, recording in
        let vars = values.reduce(into: [String: Variable]()) {
            $0[$1.key] = Variable($1.value, requiresGrad: recording && differentiable.contains($1.key))
        }
        return (f(vars), { vars[$0]?.grad })
    }
}

/// The general form: `build(values, recording)` runs the computation on `values` and returns
/// its output with a way to read each input's gradient after `backward()` (for inputs that
/// live inside a layer as parameters). With `recording == false` it only needs the value.
public func checkGradients(_ name: String, inputs: [String: Tensor], differentiable: [String], upstream: Tensor? = nil,
                           eps: Float = 1e-2, rtol: Float = 1e-2, atol: Float = 2e-3,
                           file: StaticString = #filePath, line: UInt = #line,
                           build: ([String: Tensor], Bool) -> (y: Variable, grad: (String) -> Tensor?)) {
    let (y, gradient) = build(inputs, true)
    var rng = RandomGenerator(seed: 7)
    let u = upstream ?? Tensor.randomNormal(y.shape, using: &rng)
    y.backward(seed: u)

    func loss(_ values: [String: Tensor]) -> Double {
        let out = Autodiff.withoutGradients { build(values, false).y.value }
        return zip(out.scalars, u.scalars).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
    }
    for key in differentiable {
        guard let analytic = gradient(key) else {
            XCTFail("\(name): no gradient reached \(key)", file: file, line: line); continue
        }
        var worst: (Int, Float, Float)? = nil
        for i in 0..<inputs[key]!.count {
            var plus = inputs, minus = inputs
            plus[key]!.scalars[i] += eps
            minus[key]!.scalars[i] -= eps
            let numeric = Float((loss(plus) - loss(minus)) / Double(2 * eps))
            let a = analytic.scalars[i]
            if abs(numeric - a) > atol + rtol * abs(a), worst == nil { worst = (i, numeric, a) }
        }
        if let (i, numeric, a) = worst {
            XCTFail("\(name): d/d\(key)[\(i)] numeric \(numeric) vs autodiff \(a)", file: file, line: line)
        }
    }
}

/// Asserts elementwise closeness within `atol + rtol * |expected|`, naming the worst element.
public func assertClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-4, atol: Float = 1e-5, _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    guard actual.shape == expected.shape else {
        XCTFail("\(message): shape \(actual.shape) vs expected \(expected.shape)", file: file, line: line); return
    }
    var worst = (index: -1, excess: Float(0))
    for (i, (a, e)) in zip(actual.scalars, expected.scalars).enumerated() {
        let excess = abs(a - e) - (atol + rtol * abs(e))
        if !(excess <= 0), excess > worst.excess || worst.index < 0 { worst = (i, excess.isNaN ? .infinity : excess) }
    }
    if worst.index >= 0 {
        XCTFail("\(message): element \(worst.index) is \(actual.scalars[worst.index]), expected \(expected.scalars[worst.index])",
                file: file, line: line)
    }
}
