import Engine
import Foundation
import Layers

/// The one definition of "the best epoch": the monitored validation figure (loss: lower is
/// better; accuracy: higher), improving by more than `minDelta`; without a validation split,
/// the training loss. A NaN epoch is never the best.
public enum Monitor: String, Codable, Sendable, CaseIterable {
    case validationLoss = "val_loss"
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
    public let monitor: Monitor
    public let patience: Int?
    public let minDelta: Double
    public private(set) var bestEpoch: Int?
    public private(set) var bestScore = -Double.infinity
    public private(set) var epochsWithoutImprovement = 0
    private var bestWeights: Snapshot?
    private var startWeights: Snapshot?

    public init(monitor: Monitor = .validationLoss, patience: Int? = 5, minDelta: Double = 0) {
        ensure(patience.map { $0 >= 1 } ?? true, "EarlyStopping: patience must be at least 1")
        self.monitor = monitor
        self.patience = patience
        self.minDelta = minDelta
    }

    public func reset() {
        bestEpoch = nil
        bestScore = -.infinity
        epochsWithoutImprovement = 0
        bestWeights = nil
    }

    public func fitBegan(_ context: TrainingContext) throws {
        if !context.isResuming { reset() }
        startWeights = Snapshot(context.model)
    }

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

    public func fitEnded(_ context: TrainingContext) throws {
        (bestWeights ?? startWeights)?.restore(into: context.model)
    }

    // MARK: Checkpoint

    public var checkpointName: String { "early_stopping" }

    private struct State: Codable {
        var bestEpoch: Int?
        var bestScore: Double
        var epochsWithoutImprovement: Int
    }

    public func checkpointState() throws -> CallbackState {
        try CallbackState(
            State(
                bestEpoch: bestEpoch, bestScore: bestScore.isFinite ? bestScore : -1e300,
                epochsWithoutImprovement: epochsWithoutImprovement),
            tensors: bestWeights?.named ?? [:])
    }

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
    public let named: [String: Tensor]

    public init(_ model: Module) {
        var named: [String: Tensor] = [:]
        for (key, parameter) in model.namedParameters { named[key] = parameter.value }
        for (key, buffer) in model.namedBuffers { named[key] = buffer.value }
        self.named = named
    }

    init(named: [String: Tensor]) { self.named = named }

    public func restore(into model: Module) {
        for (key, parameter) in model.namedParameters { if let value = named[key] { parameter.value = value } }
        for (key, buffer) in model.namedBuffers { if let value = named[key] { buffer.value = value } }
    }
}
