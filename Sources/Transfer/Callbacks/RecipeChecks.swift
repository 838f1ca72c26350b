import Engine
import Foundation
import Layers
import Logging

/// Before training, the loss of the untrained head against ln(C) (lecture notes, "Recipe for
/// training neural nets": a classifier that knows nothing predicts uniformly). A difference
/// over `tolerance` is announced with the likely causes.
public final class InitialLossCheck: TrainingCallback {
    /// How far (in nats) the initial loss may be from ln(C) before it is announced; default 0.5.
    public let tolerance: Double
    /// The loss measured on the batch before the first step; nil before fit begins, when
    /// resuming, or when `batch` gave none.
    public private(set) var initialLoss: Double?
    private let batch: () -> (images: Tensor, labels: [Int])?
    private let log: Logger

    /// `batch` gives the images to check (typically the first training batch).
    public init(
        tolerance: Double = 0.5, batch: @escaping () -> (images: Tensor, labels: [Int])?,
        log: Logger = .graft
    ) {
        self.tolerance = tolerance
        self.batch = batch
        self.log = log
    }

    /// Measures the untrained model's loss on the batch (not when resuming) and logs a notice when it is
    /// more than `tolerance` from ln(C).
    public func fitBegan(_ context: TrainingContext) throws {
        guard !context.isResuming, let (images, labels) = batch() else { return }
        let logits = context.model.predict(images)
        let classes = logits.shape.last ?? 1
        let loss = Double(try context.trainer.loss(Variable(logits), labels: labels).value.scalar)
        initialLoss = loss
        let expected = Foundation.log(Double(classes))
        guard abs(loss - expected) > tolerance else { return }
        let message =
            String(
                format: "the initial loss is %.3f, expected about ln(%d) = %.3f for an untrained head. ", loss,
                classes, expected)
            + (loss > expected
                ? "Likely causes: a head initialised with large weights, labels that do not match the classes, or extreme class weights"
                : "Likely causes: a head that was not replaced (already trained), or a dataset with one dominant class")
        log.notice("\(message)")
    }
}

/// The size of each step relative to the weights, ‖Δw‖ / ‖w‖ per stage, averaged over every
/// `every`-th step of an epoch and put in the epoch's record (the lecture notes: about 1e-3
/// is healthy; far smaller learns slowly, far larger is unstable). Stages far from it are
/// announced.
public final class UpdateRatioMonitor: TrainingCallback {
    /// Measure every `every`-th optimiser step (at least 1; default 10).
    public let every: Int
    /// (stage name, key prefix) pairs: a parameter belongs to the first stage whose prefix it has.
    public let stages: [(name: String, prefix: String)]
    private let log: Logger
    private var before: [String: Tensor] = [:]
    private var sums: [String: Double] = [:]
    private var counts: [String: Int] = [:]

    /// A monitor of `stages` measuring every `every`-th step; ratios far from 1e-3 are logged on `log` as
    /// notices.
    public init(stages: [(name: String, prefix: String)], every: Int = 10, log: Logger = .graft) {
        self.stages = stages
        self.every = max(1, every)
        self.log = log
    }

    private func stage(of key: String) -> String? {
        stages.first { key == $0.prefix || key.hasPrefix($0.prefix + ".") }?.name
    }

    /// Starts the epoch's averages afresh.
    public func epochBegan(_ context: TrainingContext) throws {
        sums = [:]
        counts = [:]
    }

    /// On a measured step, keeps the trainable parameters' values before the optimiser updates them.
    public func afterBackward(_ context: TrainingContext) throws {
        before = [:]
        guard context.optimizer.stepCount % every == 0 else { return }
        for (key, parameter) in context.model.trainableParameters { before[key] = parameter.value }
    }

    /// Adds each stage's ‖Δw‖ / ‖w‖ for the step just taken to the epoch's sums.
    public func batchEnded(_ context: TrainingContext) throws {
        guard !before.isEmpty else { return }
        var delta: [String: Double] = [:]
        var weight: [String: Double] = [:]
        for (key, parameter) in context.model.trainableParameters {
            guard let old = before[key], let name = stage(of: key) else { continue }
            let (d, w) = Self.squaredNorms(parameter.value, old)
            delta[name, default: 0] += d
            weight[name, default: 0] += w
        }
        for (name, d) in delta where (weight[name] ?? 0) > 0 {
            sums[name, default: 0] += (d / weight[name]!).squareRoot()
            counts[name, default: 0] += 1
        }
        before = [:]
    }

    /// ‖new − old‖² and ‖old‖².
    static func squaredNorms(_ new: Tensor, _ old: Tensor) -> (Double, Double) {
        new.withUnsafeBufferPointer { n in
            old.withUnsafeBufferPointer { o in
                var d = 0.0
                var w = 0.0
                for i in 0..<o.count {
                    let diff = Double(n[i] - o[i])
                    d += diff * diff
                    w += Double(o[i]) * Double(o[i])
                }
                return (d, w)
            }
        }
    }

    /// Puts the epoch's mean ratio per stage in `context.record.updateRatios`, and logs a notice for
    /// stages outside 1e-4…1e-2 (not judged once the schedule has taken the rate below 0.3 of its base).
    public func epochEnded(_ context: TrainingContext) throws {
        guard !sums.isEmpty else { return }
        let ratios = sums.reduce(into: [String: Double]()) { $0[$1.key] = $1.value / Double(counts[$1.key]!) }
        context.record?.updateRatios = ratios
        // Late in a decaying schedule small steps are intended: only judge near the full rate.
        let decayed = context.optimizer.learningRateFactor < 0.3
        let far = decayed ? [] : stages.map(\.name).filter { ratios[$0].map { $0 < 1e-4 || $0 > 1e-2 } ?? false }
        if !far.isEmpty {
            let message =
                "update/weight ratios far from about 1e-3: "
                + far.map { String(format: "%@ %.1e", $0, ratios[$0]!) }.joined(separator: ", ")
                + " (much smaller: that stage learns slowly, raise its rate; much larger: unstable, lower it)"
            log.notice("\(message)")
        }
    }
}
