import Engine

/// A trainable tensor of a module: its value, its gradient after `backward()`, and whether
/// it is trainable. Layers use `variable` (an autodiff leaf) in their forward pass; freezing
/// clears `trainable`, so no gradient is computed for it and optimisers skip it.
public final class Parameter {
    public let variable: Variable

    public init(_ value: Tensor, trainable: Bool = true) {
        variable = Variable(value, requiresGrad: trainable)
    }

    public var value: Tensor {
        get { variable.value }
        set {
            ensure(newValue.shape == variable.value.shape,
                   "Parameter: cannot replace a \(variable.value.shape) value with \(newValue.shape)")
            variable.value = newValue
        }
    }

    public var grad: Tensor? {
        get { variable.grad }
        set { variable.grad = newValue }
    }

    public var trainable: Bool {
        get { variable.requiresGrad }
        set {
            variable.requiresGrad = newValue
            if !newValue { variable.grad = nil }
        }
    }

    public var shape: [Int] { variable.value.shape }
}

/// A tensor a module keeps and saves but never trains (BatchNorm running statistics).
/// Buffers are enumerated by key next to parameters and are never handed to an optimiser.
public final class Buffer {
    public var value: Tensor {
        didSet { version &+= 1 }
    }
    /// Counts the writes to `value`, as `Variable.version` does.
    public private(set) var version: UInt64 = 0
    public init(_ value: Tensor) { self.value = value }
}
