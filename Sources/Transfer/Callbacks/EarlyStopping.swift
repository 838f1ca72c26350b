import Engine
import Foundation
import Layers

/// The one definition of "the best epoch": the monitored validation figure (loss: lower is
/// better; accuracy: higher), improving by more than `minDelta`; without a validation split,
/// the training loss. A NaN epoch is never the best.
public enum Monitor: String, Codable, Sendable, CaseIterable {
    /// The validation loss, lower is better (`val_loss`; the default).
    case validationLoss = "val_loss"
    /// The validation accuracy, higher is better (`val_accuracy`).
    case validationAccuracy = "val_accuracy"

    /// Higher is better.
    public func score(_ record: EpochRecord) -> Double {
        let score: Double
        switch self {
        case .validationLoss: score = -(record.validationLoss ?? record.trainLoss)
        case .validationAccuracy: score = record.validationAccuracy ?? -record.trainLoss
        }
        return score.isFinite ? score : -.infinity
    }
}

/// Tracks the best epoch and stops when the monitored figure has not improved for `patience`
/// epochs (nil: never stops). Whenever training ends (stopped early, finished, diverged or
/// interrupted) the weights of the best epoch are restored (keras#12511); before any epoch
/// finished, the weights training started from. `reset()` forgets everything, for the second
/// phase of a fine-tune (keras#13488): no state leaks from one phase (or fit) to the next.
public final class EarlyStopping: CheckpointableCallback {
    /// The figure that decides the best epoch.
    public let monitor: Monitor
    /// Epochs without improvement before stopping (at least 1); nil never stops early.
    public let patience: Int?
    /// How much the monitored score must beat the best by to count as an improvement.
    public let minDelta: Double
    /// The best epoch so far (1-based); nil before the first epoch ends.
    public private(set) var bestEpoch: Int?
    /// The best epoch's `Monitor.score` (higher is better: the negated loss for `validationLoss`).
    public private(set) var bestScore = -Double.infinity
    /// Epochs since the best one.
    public private(set) var epochsWithoutImprovement = 0
    private var bestWeights: Snapshot?
    private var startWeights: Snapshot?

    /// Early stopping on `monitor` after `patience` epochs without an improvement of more than `minDelta`.
    public init(monitor: Monitor = .validationLoss, patience: Int? = 5, minDelta: Double = 0) {
        ensure(patience.map { $0 >= 1 } ?? true, "EarlyStopping: patience must be at least 1")
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
    }

    /// Forgets the best epoch, its weights and the patience count (the start weights are kept).
    public func reset() {
        bestEpoch = nil
        bestScore = -.infinity
        epochsWithoutImprovement = 0
        bestWeights = nil
    }

    /// Resets unless the fit resumes from a checkpoint, and remembers the weights training starts from.
    public func fitBegan(_ context: TrainingContext) throws {
        if !context.isResuming { reset() }
        startWeights = Snapshot(context.model)
    }

    /// Scores the epoch's record: a better one becomes the best (its weights are kept); otherwise
    /// the patience count grows and, when it reaches `patience`, a stop is requested.
    public func epochEnded(_ context: TrainingContext) throws {
        guard let record = context.record else { return }
        let score = monitor.score(record)
        if bestEpoch == nil || score > bestScore + minDelta {
            bestEpoch = record.epoch
            bestScore = score
            bestWeights = Snapshot(context.model)
            epochsWithoutImprovement = 0
        } else {
            epochsWithoutImprovement += 1
            if let patience, epochsWithoutImprovement >= patience {
                context.requestStop(.noImprovement(patience: patience))
            }
        }
    }

    /// Restores the best epoch's weights (or, if no epoch finished, the starting ones).
    public func fitEnded(_ context: TrainingContext) throws {
        (bestWeights ?? startWeights)?.restore(into: context.model)
    }

    // MARK: Checkpoint

    /// The state's name in checkpoints: `early_stopping`.
    public var checkpointName: String { "early_stopping" }

    private struct State: Codable {
        var bestEpoch: Int?
        var bestScore: Double
        var epochsWithoutImprovement: Int
    }

    /// The best epoch, score and patience count as JSON, with the best weights as tensors.
    public func checkpointState() throws -> CallbackState {
        try CallbackState(
            State(
                bestEpoch: bestEpoch, bestScore: bestScore.isFinite ? bestScore : -1e300,
                epochsWithoutImprovement: epochsWithoutImprovement),
            tensors: bestWeights?.named ?? [:])
    }

    /// Puts back what `checkpointState()` saved, best weights included.
    public func restore(_ state: CallbackState) throws {
        let saved = try state.decode(State.self)
        bestEpoch = saved.bestEpoch
        bestScore = saved.bestEpoch == nil ? -.infinity : saved.bestScore
        epochsWithoutImprovement = saved.epochsWithoutImprovement
        bestWeights = saved.bestEpoch == nil ? nil : Snapshot(named: state.tensors)
    }
}

/// The values of every parameter and buffer, to return to (tensors share storage until
/// written, so a snapshot costs no copy until training changes the weights).
public struct Snapshot {
    /// The values by dotted key (`stage1.block1.conv1.weight`, BatchNorm buffers included).
    public let named: [String: Tensor]

    /// Takes the current values of `model`'s parameters and buffers.
    public init(_ model: Module) {
        var named: [String: Tensor] = [:]
        for (key, parameter) in model.namedParameters { named[key] = parameter.value }
        for (key, buffer) in model.namedBuffers { named[key] = buffer.value }
        self.named = named
    }

    init(named: [String: Tensor]) { self.named = named }

    /// Writes the values back into `model`'s parameters and buffers of the same keys (others are
    /// left alone); with `buffersOnly`, only the buffers (BatchNorm's running statistics).
    public func restore(into model: Module, buffersOnly: Bool = false) {
        if !buffersOnly {
            for (key, parameter) in model.namedParameters { if let value = named[key] { parameter.value = value } }
        }
        for (key, buffer) in model.namedBuffers { if let value = named[key] { buffer.value = value } }
    }
}
