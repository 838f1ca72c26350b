import Engine
import Foundation

/// Inference fusion: where no gradient is wanted (evaluation, prediction, feature
/// extraction, a frozen prefix during fine-tuning), a convolution, the BatchNorm after it and
/// the ReLU after that run as one oneDNN convolution, and a ResNet block's residual add and
/// final ReLU are post-ops of its last convolution. BatchNorm on running statistics is an
/// affine map per channel, so it folds into the convolution's kernel and bias (see
/// `BatchNorm.folded(into:)`); the folded kernel is cached until a weight or statistic
/// changes. Results agree with the unfused layers to float rounding (the folded kernel
/// rounds differently), not bit for bit.
public enum Fusion {
    /// On unless the environment sets `GRAFT_FUSION=off` (for before/after figures and for
    /// ruling fusion out when a result looks wrong).
    nonisolated(unsafe) public static var isEnabled = ProcessInfo.processInfo.environment["GRAFT_FUSION"] != "off"

    /// Whether the convolutions `convs` and BatchNorms `norms` of one unit may run fused on
    /// `x`: fusion is on, no trace is recording module outputs, every BatchNorm uses its
    /// running statistics, and no gradient is wanted (autodiff is off, or neither `x` nor any
    /// of their parameters requires one).
    public static func applies(to x: Variable, convs: [Conv2D], norms: [BatchNorm]) -> Bool {
        guard isEnabled, Tracer.current == nil else { return false }
        if norms.contains(where: \.usesBatchStatistics) { return false }
        guard Autodiff.isRecording else { return true }
        if x.requiresGrad { return false }
        let trainableConv = convs.contains { $0.weight.trainable || ($0.bias?.trainable ?? false) }
        let trainableNorm = norms.contains { $0.gamma.trainable || $0.beta.trainable }
        return !trainableConv && !trainableNorm
    }

    /// The variable holding a fused unit's output `y` computed from `x` (no gradient node).
    public static func output(_ y: Tensor, from x: Variable) -> Variable {
        Variable.operation("fused convolution", inputs: [x], value: y) { _ in [nil] }
    }

    /// Runs `Conv2D`, then an optional `BatchNorm`, then an optional `ReLU` from the start of
    /// `layers` as one fused convolution when `applies`; returns the output and how many
    /// layers it consumed, or nil (nothing to fuse, or a gradient is wanted).
    static func convolutionUnit(_ layers: ArraySlice<Module>, on x: Variable) -> (Variable, Int)? {
        guard let conv = layers.first as? Conv2D else { return nil }
        let rest = layers.dropFirst()
        let norm = rest.first as? BatchNorm
        let relu = rest.dropFirst(norm == nil ? 0 : 1).first is ReLU
        guard norm != nil || relu, applies(to: x, convs: [conv], norms: norm.map { [$0] } ?? []) else { return nil }
        let y =
            norm.map { convBN(x.value, conv, $0, relu: relu) }
            ?? Kernels.conv2d(
                x.value, conv.weight.value, bias: conv.bias?.value, stride: conv.stride, padding: conv.padding,
                dilation: conv.dilation, groups: conv.groups, adding: nil, relu: relu, layouts: conv.inferenceLayouts)
        return (output(y, from: x), 1 + (norm == nil ? 0 : 1) + (relu ? 1 : 0))
    }

    /// Runs a `BatchNorm` and the `ReLU` after it from the start of `layers` as one op
    /// (`BatchNorm.withReLU`); returns the output and the two layers it consumed, or nil.
    static func normReLUUnit(_ layers: ArraySlice<Module>, on x: Variable) -> (Variable, Int)? {
        guard isEnabled, let norm = layers.first as? BatchNorm, layers.dropFirst().first is ReLU else { return nil }
        return (norm.withReLU(x), 2)
    }

    /// `relu?(bn(conv(x)) + residual)` in inference as one convolution: `bn` folded into
    /// `conv`, the residual add and the ReLU as post-ops. NHWC `x` and `residual`.
    public static func convBN(
        _ x: Tensor, _ conv: Conv2D, _ bn: BatchNorm, adding residual: Tensor? = nil, relu: Bool
    ) -> Tensor {
        let (kernel, bias, layouts) = bn.folded(into: conv)
        return Kernels.conv2d(
            x, kernel, bias: bias, stride: conv.stride, padding: conv.padding, dilation: conv.dilation,
            groups: conv.groups, adding: residual, relu: relu, layouts: layouts)
    }
}

/// A folded kernel and bias, the versions of what they were computed from, and the folded
/// kernel's reordered copies (valid exactly as long as the fold).
struct FoldedConvolution {
    let source: [UInt64]
    let kernel: Tensor
    let bias: Tensor
    let layouts = WeightLayouts()
}

extension BatchNorm {
    /// `conv` followed by this BatchNorm in inference mode as one convolution (Jacob et al.,
    /// 2018, section 3.2): with `s = gamma / sqrt(runningVariance + epsilon)`, the HWIO kernel
    /// `w'[.., o] = w[.., o] · s[o]` and the bias `b'[o] = (b[o] - runningMean[o]) · s[o] + beta[o]`
    /// (`b = 0` without a convolution bias). Cached until any of the five changes, with the
    /// kernel's copies in oneDNN's layouts (`layouts`), made as the convolutions first run.
    public func folded(into conv: Conv2D) -> (kernel: Tensor, bias: Tensor, layouts: WeightLayouts) {
        ensure(
            conv.outputs == channels,
            "BatchNorm(\(channels)): cannot fold into a convolution with \(conv.outputs) outputs")
        let source = [
            UInt64(UInt(bitPattern: ObjectIdentifier(conv))), conv.weight.variable.version,
            conv.bias?.variable.version ?? 0, gamma.variable.version, beta.variable.version,
            runningMean.version, runningVariance.version, UInt64(epsilon.bitPattern),
        ]
        if let folding, folding.source == source { return (folding.kernel, folding.bias, folding.layouts) }
        let scale = zip(gamma.value.scalars, runningVariance.value.scalars).map { $0 / (($1 + epsilon).squareRoot()) }
        let convBias = conv.bias?.value.scalars ?? [Float](repeating: 0, count: channels)
        let bias = Tensor(
            (0..<channels).map { (convBias[$0] - runningMean.value.scalars[$0]) * scale[$0] + beta.value.scalars[$0] })
        let weights = conv.weight.value
        let kernel = Tensor(shape: weights.shape) { out in
            weights.withUnsafeBufferPointer { w in
                for i in 0..<w.count { out[i] = w[i] * scale[i % channels] }
            }
        }
        let fold = FoldedConvolution(source: source, kernel: kernel, bias: bias)
        folding = fold
        return (kernel, bias, fold.layouts)
    }
}
