import Engine
/// ReLU: `max(x, 0)`.
public final class ReLU: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { relu(x) }
}

/// Leaky ReLU with a fixed slope (default 0.01, PyTorch's; Keras's is 0.3).
public final class LeakyReLU: Module {
    public let alpha: Float
    public init(alpha: Float = 0.01) { self.alpha = alpha }
    public override func forward(_ x: Variable) -> Variable { leakyReLU(x, alpha: alpha) }
    public override var summary: String { "LeakyReLU(\(alpha))" }
}

/// Leaky ReLU with a learnable slope (PReLU, He et al., 2015): `x` for `x > 0`, else
/// `alpha · x`, with one slope shared (`channels: nil`) or one per channel (last axis).
/// Initial slope 0.25, as the paper and PyTorch.
public final class PReLU: Module {
    public let alpha: Parameter

    public init(channels: Int? = nil, initial: Float = 0.25) {
        alpha = Parameter(.full([channels ?? 1], initial))
    }

    public override func forward(_ x: Variable) -> Variable {
        relu(x) - alpha.variable * relu(-x)
    }

    public override var summary: String { "PReLU(\(alpha.shape[0]) slope\(alpha.shape[0] == 1 ? "" : "s"))" }
}

/// ELU (Clevert et al., 2015): `x` for `x > 0`, else `alpha · (exp(x) - 1)`.
public final class ELU: Module {
    public let alpha: Float
    public init(alpha: Float = 1) { self.alpha = alpha }
    public override func forward(_ x: Variable) -> Variable { elu(x, alpha: alpha) }
    public override var summary: String { "ELU(\(alpha))" }
}

public final class Sigmoid: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { sigmoid(x) }
}

public final class Tanh: Module {
    public override init() {}
    public override func forward(_ x: Variable) -> Variable { tanh(x) }
}

/// Softmax along `axis` (default: the last).
public final class Softmax: Module {
    public let axis: Int
    public init(axis: Int = -1) { self.axis = axis }
    public override func forward(_ x: Variable) -> Variable { softmax(x, axis: axis) }
}
