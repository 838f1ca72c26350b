import Engine
import Layers
/// Weight penalties added to the loss (the lecture notes' "weight decay" as an explicit
/// term): `l1·Σ|w| + l2·Σw²` (Keras's convention: no ½ factor).
public enum Regularizer: Sendable {
    case l1(Float)
    case l2(Float)
    case elasticNet(l1: Float, l2: Float)

    var coefficients: (l1: Float, l2: Float) {
        switch self {
        case let .l1(a): return (a, 0)
        case let .l2(b): return (0, b)
        case let .elasticNet(a, b): return (a, b)
        }
    }

    /// The penalty over the trainable parameters among `parameters` (differentiable).
    public func penalty(_ parameters: [Parameter]) -> Variable? {
        let (a, b) = coefficients
        var terms: [Variable] = []
        for p in parameters where p.trainable {
            if a != 0 { terms.append(p.variable.abs().sum() * a) }
            if b != 0 { terms.append(p.variable.squared().sum() * b) }
        }
        guard let first = terms.first else { return nil }
        return terms.dropFirst().reduce(first, +)
    }
}

/// Gradient clipping over a set of parameters.
public enum GradientClipping {
    /// Scales all gradients so their global L2 norm is at most `maxNorm` (PyTorch's
    /// `clip_grad_norm_`: factor `min(1, maxNorm / (norm + 1e-6))`). Returns the norm before
    /// clipping, which a trainer can log.
    @discardableResult
    public static func clipByGlobalNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
        let grads = parameters.compactMap(\.grad)
        let norm = Float(grads.reduce(0.0) { acc, g in acc + g.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } }.squareRoot())
        let factor = Swift.min(1, maxNorm / (norm + 1e-6))
        if factor < 1 {
            for p in parameters where p.grad != nil { p.grad! *= factor }
        }
        return norm
    }

    /// Clamps every gradient element to `[-maxValue, maxValue]`.
    public static func clipByValue(_ parameters: [Parameter], maxValue: Float) {
        for p in parameters where p.grad != nil { p.grad = p.grad!.clamped(-maxValue, maxValue) }
    }
}
