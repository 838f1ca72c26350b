import Engine
/// Batch normalisation (Ioffe & Szegedy, 2015) over the last (channel) axis of `[n, c]`
/// (BatchNorm1d) or NHWC `[n, h, w, c]` (BatchNorm2d).
///
/// Training mode normalises with the batch statistics and updates the running statistics,
/// PyTorch-style: `running = (1 - momentum)·running + momentum·batch`, with the unbiased
/// batch variance (Keras's `momentum=0.99` is `momentum: 0.01` here). Inference mode uses
/// the running statistics.
///
/// Frozen BatchNorm (gamma and beta not trainable) runs in inference mode even while the
/// model trains, as Keras does since 2.1.3: a frozen layer must not drift. Set
/// `frozenBehaviour = .batchStatistics` for PyTorch's behaviour (batch statistics and
/// running updates continue while the affine parameters stay fixed).
public final class BatchNorm: Module {
    public enum FrozenBehaviour: Sendable { case inference, batchStatistics }

    public let gamma: Parameter
    public let beta: Parameter
    public let runningMean: Buffer
    public let runningVariance: Buffer
    public var momentum: Float
    public var epsilon: Float
    public var frozenBehaviour: FrozenBehaviour = .inference
    /// The last `folded(into:)` result (inference fusion), reused while its sources are unchanged.
    var folding: FoldedConvolution?

    public init(_ channels: Int, momentum: Float = 0.1, epsilon: Float = 1e-5) {
        gamma = Parameter(.ones([channels]))
        beta = Parameter(.zeros([channels]))
        runningMean = Buffer(.zeros([channels]))
        runningVariance = Buffer(.ones([channels]))
        self.momentum = momentum
        self.epsilon = epsilon
    }

    public var channels: Int { gamma.shape[0] }

    /// Whether this call uses (and updates) batch statistics.
    public var usesBatchStatistics: Bool {
        isTraining && (frozenBehaviour == .batchStatistics || gamma.trainable || beta.trainable)
    }

    public override func forward(_ x: Variable) -> Variable { normalise(x, relu: false) }

    /// `relu(self(x))` as one op each way (oneDNN's `fuse_norm_relu`, `batchNormReLU`): the
    /// ReLU costs no pass of its own, forward or backward. Under `trace(_:)`, or with
    /// `Fusion.isEnabled` off, the two run apart.
    public func withReLU(_ x: Variable) -> Variable {
        guard Fusion.isEnabled, Tracer.current == nil else { return relu(self(x)) }
        return normalise(x, relu: true)
    }

    private func normalise(_ x: Variable, relu: Bool) -> Variable {
        ensure(x.shape.last == channels, "BatchNorm(\(channels)): expects \(channels) channels on the last axis, got \(x.shape)")
        let op = relu ? batchNormReLU : batchNorm
        if !usesBatchStatistics {
            return op(x, gamma.variable, beta.variable, (runningMean.value, runningVariance.value), epsilon).output
        }
        let (y, mean, variance) = op(x, gamma.variable, beta.variable, nil, epsilon)
        Kernels.updateRunningStatistics(mean: &runningMean.value, variance: &runningVariance.value, batchMean: mean,
                                        batchVariance: variance, valuesPerChannel: x.value.count / channels, momentum: momentum)
        return y
    }

    public override var summary: String { "BatchNorm(\(channels), momentum \(momentum), eps \(epsilon))" }
}

/// Layer normalisation (Ba et al., 2016) over the last axis, with a per-feature gain and
/// bias: `y = gamma · (x - mean) / sqrt(var + eps) + beta` (biased variance), as Keras's
/// default `axis=-1` and PyTorch's `LayerNorm(normalized_shape=C)`.
public final class LayerNorm: Module {
    public let gamma: Parameter
    public let beta: Parameter
    public let epsilon: Float

    public init(_ features: Int, epsilon: Float = 1e-5) {
        gamma = Parameter(.ones([features]))
        beta = Parameter(.zeros([features]))
        self.epsilon = epsilon
    }

    public override func forward(_ x: Variable) -> Variable {
        ensure(x.shape.last == gamma.shape[0], "LayerNorm(\(gamma.shape[0])): expects that many features on the last axis, got \(x.shape)")
        let axis = x.shape.count - 1
        return normalise(x, axes: [axis], epsilon: epsilon) * gamma.variable + beta.variable
    }

    public override var summary: String { "LayerNorm(\(gamma.shape[0]), eps \(epsilon))" }
}

/// Group normalisation (Wu & He, 2018) of NHWC `[n, h, w, c]`: channels split into `groups`
/// consecutive groups (channel `c` in group `c / (C / groups)`), each normalised over
/// height, width and its channels, then a per-channel gain and bias.
public final class GroupNorm: Module {
    public let gamma: Parameter
    public let beta: Parameter
    public let groups: Int
    public let epsilon: Float

    public init(groups: Int, channels: Int, epsilon: Float = 1e-5) {
        ensure(groups >= 1 && channels % groups == 0, "GroupNorm: \(groups) groups must divide \(channels) channels")
        gamma = Parameter(.ones([channels]))
        beta = Parameter(.zeros([channels]))
        self.groups = groups
        self.epsilon = epsilon
    }

    public override func forward(_ x: Variable) -> Variable {
        let s = x.shape
        ensure(s.count == 4 && s[3] == gamma.shape[0], "GroupNorm(\(groups), \(gamma.shape[0])): expects NHWC with \(gamma.shape[0]) channels, got \(s)")
        let grouped = x.reshaped([s[0], s[1] * s[2], groups, s[3] / groups])
        return normalise(grouped, axes: [1, 3], epsilon: epsilon).reshaped(s) * gamma.variable + beta.variable
    }

    public override var summary: String { "GroupNorm(\(groups) groups, \(gamma.shape[0]), eps \(epsilon))" }
}

/// `(x - mean) / sqrt(var + eps)` over `axes`, with the biased variance.
func normalise(_ x: Variable, axes: [Int], epsilon: Float) -> Variable {
    let centred = x - x.mean(axes: axes, keepDims: true)
    let variance = centred.squared().mean(axes: axes, keepDims: true)
    return centred / (variance + epsilon).sqrt()
}
