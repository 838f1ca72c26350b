// Differentiable activations, normalisation and dropout.

/// A pointwise activation on oneDNN's eltwise primitive.
public func activation(_ x: Variable, _ a: Activation) -> Variable {
    let input = x.value
    return Variable.record(a.name, [x], value: Kernels.activation(input, a)) { dy in
        [Kernels.activationBackward(dy, x: input, a)]
    }
}

public func relu(_ x: Variable) -> Variable { activation(x, .relu) }
public func leakyReLU(_ x: Variable, alpha: Float = 0.01) -> Variable { activation(x, .leakyReLU(alpha: alpha)) }
public func elu(_ x: Variable, alpha: Float = 1) -> Variable { activation(x, .elu(alpha: alpha)) }
public func sigmoid(_ x: Variable) -> Variable { activation(x, .sigmoid) }
public func tanh(_ x: Variable) -> Variable { activation(x, .tanh) }

/// Softmax along `axis`, computed stably.
public func softmax(_ x: Variable, axis: Int = -1) -> Variable {
    let y = Kernels.softmax(x.value, axis: axis)
    return Variable.record("softmax", [x], value: y) { dy in [Kernels.softmaxBackward(dy, y: y, axis: axis)] }
}

/// Log-softmax along `axis`, computed stably (use it for cross-entropy).
public func logSoftmax(_ x: Variable, axis: Int = -1) -> Variable {
    let y = Kernels.softmax(x.value, axis: axis, log: true)
    return Variable.record("logSoftmax", [x], value: y) { dy in [Kernels.softmaxBackward(dy, y: y, axis: axis, log: true)] }
}

/// Inverted dropout with a fresh mask from `rng`: kept elements are scaled by
/// `1 / (1 - rate)`. Call it only in training mode; at inference dropout is the identity.
public func dropout(_ x: Variable, rate: Float, using rng: inout RandomGenerator) -> Variable {
    guard rate > 0 else { return x }
    let mask = Kernels.dropoutMask(shape: x.shape, rate: rate, using: &rng)
    return Variable.record("dropout", [x], value: x.value * mask) { dy in
        KernelStats.record("dropout.backward")
        return [dy * mask]
    }
}

/// Batch normalisation over the last axis of `[n, c]` or NHWC `[n, h, w, c]`.
///
/// With `statistics == nil` (training mode) it normalises with the batch mean and biased
/// variance and returns them, so the caller can update running averages; with running
/// statistics (inference mode) those are constants and are returned unchanged.
public func batchNorm(_ x: Variable, gamma: Variable, beta: Variable,
                      statistics: (mean: Tensor, variance: Tensor)?, epsilon: Float) -> (output: Variable, mean: Tensor, variance: Tensor) {
    let (y, mean, variance) = Kernels.batchNorm(x.value, gamma: gamma.value, beta: beta.value,
                                                mean: statistics?.mean, variance: statistics?.variance, epsilon: epsilon)
    let input = x.value
    let inference = statistics != nil
    let output = Variable.record("batchNorm", [x, gamma, beta], value: y) { dy in
        let (dx, dgamma, dbeta) = Kernels.batchNormBackward(dy, x: input, gamma: gamma.value, beta: beta.value, mean: mean, variance: variance,
                                                            epsilon: epsilon, inference: inference)
        return [x.requiresGrad ? dx : nil, gamma.requiresGrad ? dgamma : nil, beta.requiresGrad ? dbeta : nil]
    }
    return (output, mean, variance)
}

/// `relu(batchNorm(x, ...))` in one oneDNN pass each way (`fuse_norm_relu`): the forward pass
/// writes the clamped output and a bit mask of where it is positive; the backward pass
/// masks the gradient and normalises it back in the same kernel. Same statistics and
/// results as the two ops (`batchNorm(_:gamma:beta:statistics:epsilon:)`, then `relu`).
public func batchNormReLU(_ x: Variable, gamma: Variable, beta: Variable,
                          statistics: (mean: Tensor, variance: Tensor)?, epsilon: Float)
    -> (output: Variable, mean: Tensor, variance: Tensor)
{
    let (y, mean, variance, mask) = Kernels.batchNorm(
        x.value, gamma: gamma.value, beta: beta.value, mean: statistics?.mean, variance: statistics?.variance,
        epsilon: epsilon, relu: true)
    let input = x.value
    let inference = statistics != nil
    let output = Variable.record("batchNormReLU", [x, gamma, beta], value: y) { dy in
        let (dx, dgamma, dbeta) = Kernels.batchNormBackward(
            dy, x: input, gamma: gamma.value, beta: beta.value, mean: mean, variance: variance, epsilon: epsilon,
            inference: inference, reluMask: mask)
        return [x.requiresGrad ? dx : nil, gamma.requiresGrad ? dgamma : nil, beta.requiresGrad ? dbeta : nil]
    }
    return (output, mean, variance)
}
