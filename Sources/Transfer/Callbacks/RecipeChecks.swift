import Engine
import Foundation
import Layers

/// Before training, the loss of the untrained head against ln(C) (lecture notes, "Recipe for
/// training neural nets": a classifier that knows nothing predicts uniformly). A difference
/// over `tolerance` is announced with the likely causes.
public final class InitialLossCheck: TrainingCallback {
    public let tolerance: Double
    public private(set) var initialLoss: Double?
    private let batch: () -> (images: Tensor, labels: [Int])?
    private let say: (String) -> Void

    /// `batch` gives the images to check (typically the first training batch).
    public init(
        tolerance: Double = 0.5, batch: @escaping () -> (images: Tensor, labels: [Int])?,
        say: @escaping (String) -> Void
    ) {
        self.tolerance = tolerance
        self.batch = batch
        self.say = say
    }

    public func fitBegan(_ context: TrainingContext) throws {
        guard !context.isResuming, let (images, labels) = batch() else { return }
        let logits = context.model.predict(images)
        let classes = logits.shape.last ?? 1
        let loss = Double(try context.trainer.loss(Variable(logits), labels: labels).value.scalar)
        initialLoss = loss
        let expected = Foundation.log(Double(classes))
        guard abs(loss - expected) > tolerance else { return }
        say(
            String(
                format: "note: the initial loss is %.3f, expected about ln(%d) = %.3f for an untrained head. ", loss,
                classes, expected)
                + (loss > expected
                    ? "Likely causes: a head initialised with large weights, labels that do not match the classes, or extreme class weights"
                    : "Likely causes: a head that was not replaced (already trained), or a dataset with one dominant class")
        )
    }
}

/// The size of each step relative to the weights, ‖Δw‖ / ‖w‖ per stage, averaged over every
/// `every`-th step of an epoch and put in the epoch's record (the lecture notes: about 1e-3
/// is healthy; far smaller learns slowly, far larger is unstable). Stages far from it are
/// announced.
public final class UpdateRatioMonitor: TrainingCallback {
    public let every: Int
    /// (stage name, key prefix) pairs: a parameter belongs to the first stage whose prefix it has.
    public let stages: [(name: String, prefix: String)]
    private let say: (String) -> Void
    private var before: [String: Tensor] = [:]
    private var sums: [String: Double] = [:]
    private var counts: [String: Int] = [:]

    public init(stages: [(name: String, prefix: String)], every: Int = 10, say: @escaping (String) -> Void) {
        self.stages = stages
        self.every = max(1, every)
        self.say = say
    }

    private func stage(of key: String) -> String? {
        stages.first { key == $0.prefix || key.hasPrefix($0.prefix + ".") }?.name
    }

    public func epochBegan(_ context: TrainingContext) throws {
        sums = [:]
        counts = [:]
    }

    public func afterBackward(_ context: TrainingContext) throws {
        before = [:]
        guard context.optimizer.stepCount % every == 0 else { return }
        for (key, parameter) in context.model.trainableParameters { before[key] = parameter.value }
    }

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

    public func epochEnded(_ context: TrainingContext) throws {
        guard !sums.isEmpty else { return }
        let ratios = sums.reduce(into: [String: Double]()) { $0[$1.key] = $1.value / Double(counts[$1.key]!) }
        context.record?.updateRatios = ratios
        // Late in a decaying schedule small steps are intended: only judge near the full rate.
        let decayed = context.optimizer.learningRateFactor < 0.3
        let far = decayed ? [] : stages.map(\.name).filter { ratios[$0].map { $0 < 1e-4 || $0 > 1e-2 } ?? false }
        if !far.isEmpty {
            say(
                "note: update/weight ratios far from about 1e-3: "
                    + far.map { String(format: "%@ %.1e", $0, ratios[$0]!) }.joined(separator: ", ")
                    + " (much smaller: that stage learns slowly, raise its rate; much larger: unstable, lower it)")
        }
    }
}
