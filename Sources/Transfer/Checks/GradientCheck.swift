import Engine
import Foundation
import Layers

/// The lecture notes' gradient check: "analytical vs numerical gradient, while turning all
/// regularisation off, fix the random seed". On one batch, for every parameter tensor `w` with
/// autodiff gradient `g`, the derivative of the mean cross-entropy along `u = g / |g|` is
/// compared: autodiff says `g · u = |g|`, the central difference says
/// `(L(w + εu) - L(w - εu)) / 2ε`; the relative error is `|a - n| / max(|a|, |n|)` (cs231n's
/// measure). A gradient of the wrong size or direction shows as a shortfall. The direction of
/// steepest change gives the difference its largest signal, which float32 forward passes need:
/// single-weight differences drown in rounding. For the same reason tensors whose gradient norm
/// is below 0.02 or 1e-3 of the largest one's (a convolution bias before BatchNorm, whose true
/// gradient is 0) are too small to measure and are skipped, and the step shrinks for a large
/// gradient so that the loss moves by at most 0.01 (`ε = min(step, 0.01 / |g|)`).
///
/// The inputs should be random normal images (`SanityCheck` uses them): drawings' flat
/// backgrounds give many units the same pre-activation, which then cross a ReLU kink together
/// and make any difference quotient meaningless. Every parameter trains for the check, in
/// training mode (BatchNorm on batch statistics) with dropout off; the parameters, their
/// gradients, buffers, every module's mode and which parameters train are put back afterwards. A correct model stays under 1e-2
/// or so; a wrong backward pass is off by order one.
public enum GradientCheck {
    /// One compared parameter tensor.
    public struct Sample: Sendable {
        /// The parameter's dotted key (`stage3.0.conv1.weight`).
        public var key: String
        /// The autodiff directional derivative along the gradient: the gradient's L2 norm.
        public var analytic: Double
        /// The central difference along the same direction.
        public var numeric: Double
        /// `|analytic - numeric| / max(|analytic|, |numeric|)`; 0 when both are 0.
        public var relativeError: Double {
            let scale = max(abs(analytic), abs(numeric))
            return scale > 0 ? abs(analytic - numeric) / scale : 0
        }
    }

    /// What the check compared and how it ended.
    public struct Result: Sendable, CustomStringConvertible {
        /// The compared parameter tensors.
        public var samples: [Sample]
        /// The parameter tensors left out because their gradient was too small to measure.
        public var skipped: [String]
        /// The largest relative error that still passes.
        public var tolerance: Double
        /// The sample with the largest relative error.
        public var worst: Sample? { samples.max { $0.relativeError < $1.relativeError } }
        /// Whether every sample is within `tolerance`.
        public var passed: Bool { !samples.isEmpty && worst!.relativeError <= tolerance }

        /// One line: `ok: …` or `FAILED: …`, naming the worst tensor.
        public var description: String {
            guard let worst else {
                return
                    "gradient check FAILED: no parameter has a measurable gradient (all below 0.02): is anything connected to the loss?"
            }
            let at = String(
                format: "%.1e at %@ (autodiff %.4e, central difference %.4e)", worst.relativeError, worst.key,
                worst.analytic, worst.numeric)
            let counted =
                "\(samples.count) parameter tensors"
                + (skipped.isEmpty ? "" : " (\(skipped.count) with ~0 gradient skipped)")
            return passed
                ? "gradient check ok: \(counted), largest relative error \(at)"
                : "gradient check FAILED: \(counted); relative error above \(tolerance): \(at); that layer's backward pass is wrong"
        }
    }

    /// Compares the gradients of the mean cross-entropy of `model` on `images` (NHWC) with
    /// `labels` with central differences of step `step` along each parameter's gradient.
    public static func run(
        _ model: Module, images: Tensor, labels: [Int], step: Float = 1e-3, tolerance: Double = 5e-2
    ) throws -> Result {
        let parameters = model.namedParameters
        let saved = Snapshot(model)
        let trainable = parameters.map(\.parameter.trainable)
        let gradients = parameters.map(\.parameter.grad)
        let modes = model.namedModules.map { ($0.module, $0.module.isTraining) }  // parents before children
        defer {
            saved.restore(into: model)
            for (index, entry) in parameters.enumerated() {
                entry.parameter.trainable = trainable[index]
                entry.parameter.grad = gradients[index]
            }
            for (module, training) in modes { module.train(training) }
        }
        for entry in parameters {
            entry.parameter.trainable = true
            entry.parameter.grad = nil
        }
        model.train()
        for case let layer as Module in model.namedModules.map(\.module) where layer is any Reseedable { layer.eval() }
        let loss = ClassificationLoss()
        func objective() throws -> Double {
            let value = try Autodiff.withoutGradients { try loss(model(Variable(images)), labels: labels).value.scalar }
            saved.restore(into: model, buffersOnly: true)
            return Double(value)
        }
        try loss(model(Variable(images)), labels: labels).backward()
        saved.restore(into: model, buffersOnly: true)
        let norms = parameters.map { entry in
            (entry.parameter.grad?.scalars ?? []).reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        }
        let floor = max(0.02, 1e-3 * (norms.max() ?? 0))
        var samples: [Sample] = []
        var skipped: [String] = []
        for ((key, parameter), norm) in zip(parameters, norms) {
            guard norm > floor, let grad = parameter.grad else {
                skipped.append(key)
                continue
            }
            let original = parameter.value
            let epsilon = min(Double(step), 0.01 / norm)
            func shifted(_ sign: Double) -> Tensor {
                let scale = sign * epsilon / norm
                return Tensor(
                    shape: original.shape,
                    scalars: zip(original.scalars, grad.scalars).map { $0 + Float(scale * Double($1)) })
            }
            parameter.value = shifted(1)
            let plus = try objective()
            parameter.value = shifted(-1)
            let minus = try objective()
            parameter.value = original
            samples.append(Sample(key: key, analytic: norm, numeric: (plus - minus) / (2 * epsilon)))
        }
        return Result(samples: samples, skipped: skipped, tolerance: tolerance)
    }
}
