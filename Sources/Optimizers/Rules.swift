import Engine
import Foundation
import Layers

/// Stochastic gradient descent with optional momentum (Polyak, 1964), dampening and
/// Nesterov momentum (Sutskever et al., 2013), as `torch.optim.SGD`:
/// `b = μ·b + (1 - dampening)·g` (`b = g` on the first step), then
/// `p -= lr · (nesterov ? g + μ·b : b)`.
public struct SGD: UpdateRule {
    public var momentum: Float, dampening: Float, nesterov: Bool

    public init(momentum: Float = 0, dampening: Float = 0, nesterov: Bool = false) {
        ensure(
            !nesterov || (momentum > 0 && dampening == 0), "SGD: Nesterov momentum needs momentum > 0 and no dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
    }

    public struct State: Codable, Sendable { var buffer: Tensor? }
    public func initialState(for parameter: Tensor) -> State { State(buffer: nil) }

    /// One fused pass over the weights (no temporaries): `d = g + wd·p`, `b = μ·b + (1-dampening)·d`
    /// (`b = d` on the first step), `p -= lr · (nesterov ? d + μ·b : b)`; the same float
    /// operations in the same order as the three-pass form, so bit-identical to it.
    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        guard momentum != 0 else {
            p.add(gradient.withWeightDecay(c.weightDecay, of: p), scale: -c.learningRate)
            return
        }
        let first = state.buffer == nil
        var buffer = state.buffer ?? Tensor(shape: p.shape) { _ in }  // uninitialised: the first pass writes it all
        state.buffer = nil  // one reference: the pass below writes the momentum in place
        momentumPass(&p, gradient: gradient, buffer: &buffer, first: first, context: c)
        state.buffer = buffer
    }

    private func momentumPass(
        _ p: inout Tensor, gradient: Tensor, buffer: inout Tensor, first: Bool, context c: StepContext
    ) {
        ensure(gradient.shape == p.shape, "SGD: a \(gradient.shape) gradient for a \(p.shape) weight")
        let (mu, damp, wd, scale, nesterov) = (momentum, 1 - dampening, c.weightDecay, -c.learningRate, nesterov)
        gradient.withUnsafeBufferPointer { g in
            buffer.withUnsafeMutableBufferPointer { b in
                p.withUnsafeMutableBufferPointer { w in
                    Threads.parallelFor(w.count) { range in
                        for i in range {
                            let d = wd == 0 ? g[i] : g[i] + wd * w[i]
                            let m = first ? d : mu * b[i] + damp * d
                            b[i] = m
                            w[i] += scale * (nesterov ? d + mu * m : m)
                        }
                    }
                }
            }
        }
    }
}

/// Adagrad (Duchi et al., 2011): `s += g²`, `p -= lr_t · g / (sqrt(s) + eps)` with
/// `lr_t = lr / (1 + (t - 1)·lrDecay)`, `s` starting at `initialAccumulator` (torch.optim.Adagrad).
public struct Adagrad: UpdateRule {
    public var epsilon: Float, lrDecay: Float, initialAccumulator: Float
    public init(epsilon: Float = 1e-10, lrDecay: Float = 0, initialAccumulator: Float = 0) {
        self.epsilon = epsilon
        self.lrDecay = lrDecay
        self.initialAccumulator = initialAccumulator
    }

    public struct State: Codable, Sendable { var sum: Tensor }
    public func initialState(for parameter: Tensor) -> State { State(sum: .full(parameter.shape, initialAccumulator)) }

    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        let g = gradient.withWeightDecay(c.weightDecay, of: p)
        state.sum = state.sum.zipMap(g) { $0 + $1 * $1 }
        let lr = c.learningRate / (1 + Float(c.step - 1) * lrDecay)
        let eps = epsilon
        p = p.zipMap(g.zipMap(state.sum) { $0 / ($1.squareRoot() + eps) }) { $0 - lr * $1 }
    }
}

/// Adadelta (Zeiler, 2012): `v = ρ·v + (1-ρ)·g²`, `Δ = sqrt(u + eps) / sqrt(v + eps) · g`,
/// `u = ρ·u + (1-ρ)·Δ²`, `p -= lr · Δ` (PyTorch keeps a learning rate, default 1).
public struct Adadelta: UpdateRule {
    public var rho: Float, epsilon: Float
    public init(rho: Float = 0.9, epsilon: Float = 1e-6) {
        self.rho = rho
        self.epsilon = epsilon
    }

    public struct State: Codable, Sendable {
        var squareAverage: Tensor
        var deltaAverage: Tensor
    }
    public func initialState(for parameter: Tensor) -> State {
        State(squareAverage: .zeros(parameter.shape), deltaAverage: .zeros(parameter.shape))
    }

    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        let g = gradient.withWeightDecay(c.weightDecay, of: p)
        let (rho, eps) = (rho, epsilon)
        state.squareAverage = state.squareAverage.zipMap(g) { rho * $0 + (1 - rho) * $1 * $1 }
        let std = state.squareAverage.map { ($0 + eps).squareRoot() }
        let delta = state.deltaAverage.map { ($0 + eps).squareRoot() }.zipMap(std) { $0 / $1 } * g
        state.deltaAverage = state.deltaAverage.zipMap(delta) { rho * $0 + (1 - rho) * $1 * $1 }
        p.add(delta, scale: -c.learningRate)
    }
}

/// RMSProp (Hinton, 2012): `v = α·v + (1-α)·g²`, `p -= lr · g / (sqrt(v) + eps)`; centred
/// (Graves, 2013) subtracts the squared running mean of `g`; with momentum, the step goes
/// through a buffer `b = μ·b + g / denom`. As `torch.optim.RMSprop`.
public struct RMSProp: UpdateRule {
    public var alpha: Float, epsilon: Float, momentum: Float, centered: Bool

    public init(alpha: Float = 0.99, epsilon: Float = 1e-8, momentum: Float = 0, centered: Bool = false) {
        self.alpha = alpha
        self.epsilon = epsilon
        self.momentum = momentum
        self.centered = centered
    }

    public struct State: Codable, Sendable {
        var squareAverage: Tensor
        var gradAverage: Tensor?
        var buffer: Tensor?
    }
    public func initialState(for parameter: Tensor) -> State {
        State(
            squareAverage: .zeros(parameter.shape), gradAverage: centered ? .zeros(parameter.shape) : nil,
            buffer: momentum > 0 ? .zeros(parameter.shape) : nil)
    }

    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        let g = gradient.withWeightDecay(c.weightDecay, of: p)
        let (a, eps, mu) = (alpha, epsilon, momentum)
        state.squareAverage = state.squareAverage.zipMap(g) { a * $0 + (1 - a) * $1 * $1 }
        var denom: Tensor
        if centered {
            let mean = state.gradAverage!.zipMap(g) { a * $0 + (1 - a) * $1 }
            state.gradAverage = mean
            denom = state.squareAverage.zipMap(mean) { ($0 - $1 * $1).squareRoot() + eps }
        } else {
            denom = state.squareAverage.map { $0.squareRoot() + eps }
        }
        if mu > 0 {
            let b = state.buffer!.zipMap(g / denom) { mu * $0 + $1 }
            state.buffer = b
            p.add(b, scale: -c.learningRate)
        } else {
            p.add(g / denom, scale: -c.learningRate)
        }
    }
}

/// Adam (Kingma & Ba, 2015) with bias correction, optional AMSGrad (Reddi et al., 2018) and
/// coupled L2 weight decay; `decoupledWeightDecay` makes it AdamW (Loshchilov & Hutter,
/// 2019: `p *= 1 - lr·wd` before the step). As `torch.optim.Adam` / `AdamW`.
public struct Adam: UpdateRule {
    public var beta1: Float, beta2: Float, epsilon: Float, amsgrad: Bool, decoupledWeightDecay: Bool

    public init(
        beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, amsgrad: Bool = false,
        decoupledWeightDecay: Bool = false
    ) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.decoupledWeightDecay = decoupledWeightDecay
    }

    public struct State: Codable, Sendable {
        var m: Tensor
        var v: Tensor
        var vMax: Tensor?
    }
    public func initialState(for parameter: Tensor) -> State {
        State(m: .zeros(parameter.shape), v: .zeros(parameter.shape), vMax: amsgrad ? .zeros(parameter.shape) : nil)
    }

    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        var g = gradient
        if decoupledWeightDecay {
            p *= 1 - c.learningRate * c.weightDecay
        } else {
            g = g.withWeightDecay(c.weightDecay, of: p)
        }
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        state.m = state.m.zipMap(g) { $0 + (1 - b1) * ($1 - $0) }
        state.v = state.v.zipMap(g) { b2 * $0 + (1 - b2) * $1 * $1 }
        let correction1 = 1 - Foundation.pow(Double(b1), Double(c.step))
        let correction2Root = Float((1 - Foundation.pow(Double(b2), Double(c.step))).squareRoot())
        let stepSize = Float(Double(c.learningRate) / correction1)
        var v = state.v
        if amsgrad {
            v = state.vMax!.zipMap(v) { Swift.max($0, $1) }
            state.vMax = v
        }
        let denom = v.map { $0.squareRoot() / correction2Root + eps }
        p.add(state.m / denom, scale: -stepSize)
    }
}

/// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019).
public func AdamW(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, amsgrad: Bool = false) -> Adam {
    Adam(beta1: beta1, beta2: beta2, epsilon: epsilon, amsgrad: amsgrad, decoupledWeightDecay: true)
}

/// NAdam (Dozat, 2016): Adam with Nesterov momentum and PyTorch's momentum-decay schedule
/// `μ_t = β1·(1 - 0.5·0.96^(t·ψ))`, as `torch.optim.NAdam` 1.13.
public struct NAdam: UpdateRule {
    public var beta1: Float, beta2: Float, epsilon: Float, momentumDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, momentumDecay: Float = 0.004) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.momentumDecay = momentumDecay
    }

    public struct State: Codable, Sendable {
        var m: Tensor
        var v: Tensor
        var muProduct: Double
    }
    public func initialState(for parameter: Tensor) -> State {
        State(m: .zeros(parameter.shape), v: .zeros(parameter.shape), muProduct: 1)
    }

    public func update(_ p: inout Tensor, gradient: Tensor, state: inout State, context c: StepContext) {
        let g = gradient.withWeightDecay(c.weightDecay, of: p)
        let (b1, b2, eps) = (beta1, beta2, epsilon)
        let t = Double(c.step)
        let psi = Double(momentumDecay)
        let lr = Double(c.learningRate)
        let correction2 = Float(1 - Foundation.pow(Double(b2), t))
        let mu = Double(b1) * (1 - 0.5 * Foundation.pow(0.96, t * psi))
        let muNext = Double(b1) * (1 - 0.5 * Foundation.pow(0.96, (t + 1) * psi))
        state.muProduct *= mu
        let muProductNext = state.muProduct * muNext
        state.m = state.m.zipMap(g) { $0 + (1 - b1) * ($1 - $0) }
        state.v = state.v.zipMap(g) { b2 * $0 + (1 - b2) * $1 * $1 }
        let denom = state.v.map { ($0 / correction2).squareRoot() + eps }
        p.add(g / denom, scale: Float(-lr * (1 - mu) / (1 - state.muProduct)))
        p.add(state.m / denom, scale: Float(-lr * muNext / (1 - muProductNext)))
    }
}
