import Engine
import Foundation
import Layers
import Optimizers

/// Something that takes part in training by reacting to the loop's events (Keras callbacks,
/// fastai's Callback events, swift-models' TrainingLoop). Every event has an empty default,
/// so a callback implements only what it needs. Callbacks run in the order the trainer holds
/// them; `Checkpointing` should come last so that it saves the others' updated state.
///
/// Events, in order: `fitBegan`, then per epoch `epochBegan`, per batch `batchBegan` (the
/// batch may still be changed: mixup), the forward pass and loss, the backward pass,
/// `afterBackward` (gradients ready, before the optimiser step: clipping, guards),
/// the step, `batchEnded`; after validation `epochEnded` (the record is set); `fitEnded`
/// however fit ends (finished, stopped, or an error: then `context.error` is set).
/// A callback stops training with `context.requestStop(_:)`, or by throwing.
public protocol TrainingCallback: AnyObject {
    func fitBegan(_ context: TrainingContext) throws
    func epochBegan(_ context: TrainingContext) throws
    func batchBegan(_ context: TrainingContext) throws
    func afterBackward(_ context: TrainingContext) throws
    func batchEnded(_ context: TrainingContext) throws
    func epochEnded(_ context: TrainingContext) throws
    func fitEnded(_ context: TrainingContext) throws
}

extension TrainingCallback {
    public func fitBegan(_ context: TrainingContext) throws {}
    public func epochBegan(_ context: TrainingContext) throws {}
    public func batchBegan(_ context: TrainingContext) throws {}
    public func afterBackward(_ context: TrainingContext) throws {}
    public func batchEnded(_ context: TrainingContext) throws {}
    public func epochEnded(_ context: TrainingContext) throws {}
    public func fitEnded(_ context: TrainingContext) throws {}
}

/// A callback whose state must survive a checkpoint for a resumed run to continue exactly
/// (early stopping's best weights and patience, a plateau schedule's counters, …).
public protocol CheckpointableCallback: TrainingCallback {
    /// A stable name, unique among a trainer's callbacks.
    var checkpointName: String { get }
    func checkpointState() throws -> CallbackState
    func restore(_ state: CallbackState) throws
}

/// What a callback saves: small JSON, plus named tensors stored as HDF5 datasets.
public struct CallbackState: Sendable {
    public var json: Data
    public var tensors: [String: Tensor]

    public init(json: Data, tensors: [String: Tensor] = [:]) {
        self.json = json
        self.tensors = tensors
    }

    public init<T: Encodable>(_ value: T, tensors: [String: Tensor] = [:]) throws {
        self.init(json: try JSONEncoder().encode(value), tensors: tensors)
    }

    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONDecoder().decode(type, from: json) }
}

/// Why training stopped before its last epoch.
public enum StopReason: Equatable, Sendable, CustomStringConvertible {
    /// Early stopping: no better monitored figure for `patience` epochs.
    case noImprovement(patience: Int)
    /// Ctrl-C or SIGTERM.
    case interrupted
    /// Any other callback's reason.
    case requested(String)

    public var description: String {
        switch self {
        case .noImprovement(let patience): return "no improvement for \(patience) epochs"
        case .interrupted: return "interrupted"
        case .requested(let reason): return reason
        }
    }
}

/// What the loop knows at each event; callbacks read it, and change what is theirs to change
/// (the batch before the forward pass, the record at the end of an epoch).
public final class TrainingContext {
    public unowned let trainer: Trainer
    public var model: Module { trainer.model }
    public var optimizer: any GradientOptimizer { trainer.optimizer }
    public let epochs: Int
    public let batchesPerEpoch: Int
    /// True when this fit continues from a checkpoint (one-off preparations are skipped).
    public let isResuming: Bool

    /// The current epoch (1-based) and batch within it (1-based).
    public internal(set) var epoch = 0
    public internal(set) var batch = 0
    /// The current batch: images and labels, and soft targets when a callback mixed it.
    public var images = Tensor.zeros([0])
    public internal(set) var labels: [Int] = []
    public var softTargets: Tensor?
    /// The current batch's loss (set before `afterBackward`).
    public internal(set) var loss: Float = .nan
    /// Images trained on so far this epoch, and when the epoch began.
    public internal(set) var imagesSeen = 0
    public internal(set) var epochStarted = Date()
    /// Every finished epoch's record, and the current one at `epochEnded` (callbacks may
    /// add to it before it is logged).
    public internal(set) var history: [EpochRecord] = []
    public var record: EpochRecord?
    public internal(set) var validation: Evaluation?
    /// The error fit is ending with, at `fitEnded`.
    public internal(set) var error: Error?
    public private(set) var stopReason: StopReason?

    init(trainer: Trainer, epochs: Int, batchesPerEpoch: Int, isResuming: Bool) {
        self.trainer = trainer
        self.epochs = epochs
        self.batchesPerEpoch = batchesPerEpoch
        self.isResuming = isResuming
    }

    /// Ends training after the current batch (the epoch is then not recorded) or, when asked
    /// at `epochEnded`, after this epoch. The first reason wins.
    public func requestStop(_ reason: StopReason) {
        if stopReason == nil { stopReason = reason }
    }

    /// The learning rate of the first parameter group as scaled by the schedule.
    public var learningRate: Float { optimizer.learningRateFactor * (optimizer.groups.first?.learningRate ?? 0) }
}
