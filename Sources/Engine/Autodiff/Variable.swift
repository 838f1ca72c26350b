import Foundation

/// A node of the autodiff graph: a tensor value and, once `backward()` has run, its gradient.
///
/// Reverse-mode automatic differentiation over coarse ops (micrograd's design at tensor
/// granularity). Every differentiable op takes `Variable`s and returns one; it records a
/// `Node` (its inputs and a hand-written backward closure) only when at least one input
/// `requiresGrad`. A value with no trainable ancestor therefore records nothing: a frozen
/// prefix of a network costs its forward pass and no backward work at all.
///
/// Leaves are made with `Variable(_:requiresGrad:)`: trainable parameters set
/// `requiresGrad`, data and frozen parameters do not.
public final class Variable {
    /// The value computed by the forward pass.
    public var value: Tensor {
        didSet { version &+= 1 }
    }
    /// Counts the writes to `value` (assignments and in-place updates alike): what caches
    /// derived from a parameter (a folded inference kernel) compare to know they are stale.
    public private(set) var version: UInt64 = 0
    /// The accumulated gradient of the last `backward()` (nil before one has reached it).
    public var grad: Tensor?
    /// Whether gradients flow to this value (true for trainable leaves and everything
    /// computed from one). Settable on leaves only: freezing a parameter clears it.
    public var requiresGrad: Bool {
        didSet {
            ensure(node == nil || requiresGrad == oldValue,
                   "Variable.requiresGrad: only leaves can change it; this value was computed by \(node?.op ?? "")")
        }
    }
    /// The op that produced this value; nil for leaves and for values that need no gradient.
    let node: Node?

    /// A leaf: data (`requiresGrad: false`) or a parameter to train (`true`).
    public init(_ value: Tensor, requiresGrad: Bool = false) {
        self.value = value
        self.requiresGrad = requiresGrad
        self.node = nil
    }

    init(value: Tensor, node: Node?) {
        self.value = value
        self.node = node
        self.requiresGrad = node != nil
    }

    public var shape: [Int] { value.shape }

    /// The op that produced this value (nil for leaves and constants), for error messages.
    public var opName: String? { node?.op }
}

/// One recorded op: its inputs and the rule mapping the output gradient to one gradient per
/// input (nil where an input needs none).
struct Node {
    let op: String
    let inputs: [Variable]
    let backward: (Tensor) -> [Tensor?]
}

/// Global autodiff switches.
public enum Autodiff {
    private static let key = "graft.autodiff.disabled"

    /// Whether ops record nodes on this thread (false inside `withoutGradients`).
    public static var isRecording: Bool { Thread.current.threadDictionary[key] == nil }

    /// Runs `body` without recording any node (inference, feature extraction, evaluation).
    public static func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
        let dict = Thread.current.threadDictionary
        let previous = dict[key]
        dict[key] = true
        defer { dict[key] = previous }
        return try body()
    }
}

extension Variable {
    /// Defines a differentiable op outside the engine (losses, custom layers): `value` is the
    /// forward result and `backward` maps the output gradient to one gradient per input
    /// (nil where `requiresGrad` is false). Nothing is recorded when no input needs a gradient.
    public static func operation(_ op: String, inputs: [Variable], value: Tensor,
                                 backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        record(op, inputs, value: value, backward: backward)
    }

    /// Builds the result of an op. `backward` is only kept when some input requires a
    /// gradient and recording is on; it must return one entry per input, in order, and may
    /// return nil for inputs with `requiresGrad == false` (it should skip computing those).
    static func record(_ op: String, _ inputs: [Variable], value: Tensor,
                       backward: @escaping (Tensor) -> [Tensor?]) -> Variable {
        Numerics.inspect(value, op: op, inputs: inputs)
        guard Autodiff.isRecording, inputs.contains(where: \.requiresGrad) else {
            return Variable(value: value, node: nil)
        }
        return Variable(value: value, node: Node(op: op, inputs: inputs, backward: backward))
    }

    /// Computes the gradient of this value with respect to every leaf with `requiresGrad`,
    /// accumulating into their `grad`. The seed gradient defaults to ones (so a scalar loss
    /// gives plain derivatives). Intermediate gradients are freed as soon as they are used.
    public func backward(seed: Tensor? = nil) {
        guard requiresGrad else { return }
        let seedGrad = seed ?? Tensor.ones(shape)
        ensure(seedGrad.shape == shape, "backward: seed gradient \(seedGrad.shape) differs from the value's shape \(shape)")

        // Topological order (inputs before outputs) over nodes that need gradients.
        var order: [Variable] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(Variable, Bool)] = [(self, false)]
        while let (v, expanded) = stack.popLast() {
            if expanded { order.append(v); continue }
            guard visited.insert(ObjectIdentifier(v)).inserted else { continue }
            stack.append((v, true))
            for input in v.node?.inputs ?? [] where input.requiresGrad && !visited.contains(ObjectIdentifier(input)) {
                stack.append((input, false))
            }
        }

        var pending: [ObjectIdentifier: Tensor] = [ObjectIdentifier(self): seedGrad]
        for v in order.reversed() {
            guard let g = pending.removeValue(forKey: ObjectIdentifier(v)) else { continue }
            guard let node = v.node else {
                // A leaf: accumulate.
                if v.grad == nil { v.grad = g } else { v.grad!.add(g) }
                continue
            }
            let grads = node.backward(g)
            ensure(grads.count == node.inputs.count, "\(node.op): backward returned \(grads.count) gradients for \(node.inputs.count) inputs")
            for (input, grad) in zip(node.inputs, grads) where input.requiresGrad {
                guard let grad else { fatalError("\(node.op): backward gave no gradient for an input that requires one") }
                ensure(grad.shape == input.shape, "\(node.op): gradient \(grad.shape) differs from its input \(input.shape)")
                let id = ObjectIdentifier(input)
                if pending[id] == nil { pending[id] = grad } else { pending[id]!.add(grad) }
            }
        }
    }
}
