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
    /// Once, before the first epoch (also when resuming: check `context.isResuming`).
    func fitBegan(_ context: TrainingContext) throws
    /// At the start of each epoch, after the model is put in training mode.
    func epochBegan(_ context: TrainingContext) throws
    /// Before each batch's forward pass; the batch (`context.images`, `softTargets`) may still be changed.
    func batchBegan(_ context: TrainingContext) throws
    /// After the backward pass, with the gradients and `context.loss` ready, before the optimiser step.
    func afterBackward(_ context: TrainingContext) throws
    /// After the optimiser step of each batch.
    func batchEnded(_ context: TrainingContext) throws
    /// After validation, with `context.record` and `context.validation` set, before the record joins the history.
    func epochEnded(_ context: TrainingContext) throws
    /// Once, however fit ends (`context.error` holds the error, if any); every callback sees it.
    func fitEnded(_ context: TrainingContext) throws
}

extension TrainingCallback {
    /// Does nothing by default.
    public func fitBegan(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func epochBegan(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func batchBegan(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func afterBackward(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func batchEnded(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func epochEnded(_ context: TrainingContext) throws {}
    /// Does nothing by default.
    public func fitEnded(_ context: TrainingContext) throws {}
}

/// A callback whose state must survive a checkpoint for a resumed run to continue exactly
/// (early stopping's best weights and patience, a plateau schedule's counters, …).
public protocol CheckpointableCallback: TrainingCallback {
    /// A stable name, unique among a trainer's callbacks.
    var checkpointName: String { get }
    /// The state to save now (called when a checkpoint is taken).
    func checkpointState() throws -> CallbackState
    /// Puts back a state `checkpointState()` returned, before a resumed fit begins.
    func restore(_ state: CallbackState) throws
}

/// What a callback saves: small JSON, plus named tensors stored as HDF5 datasets.
public struct CallbackState: Sendable {
    /// The callback's own state, JSON-encoded.
    public var json: Data
    /// Tensors by name (weights, …), stored as datasets `callbacks/NAME/KEY` of the checkpoint file.
    public var tensors: [String: Tensor]

    /// A state of raw `json` and `tensors`.
    public init(json: Data, tensors: [String: Tensor] = [:]) {
        self.json = json
        self.tensors = tensors
    }

    /// A state of `value` encoded as JSON, and `tensors`.
    public init<T: Encodable>(_ value: T, tensors: [String: Tensor] = [:]) throws {
        self.init(json: try JSONEncoder().encode(value), tensors: tensors)
    }

    /// The JSON decoded as `type`.
    /// - Throws: `DecodingError` when it does not decode as `type`.
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

    /// A short phrase for logs ("no improvement for 3 epochs", "interrupted", or the reason given).
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
    /// The trainer running the fit.
    public unowned let trainer: Trainer
    /// The model being trained.
    public var model: Module { trainer.model }
    /// The optimiser, whose step count is the position in the run (schedules, mixing, dropout).
    public var optimizer: any GradientOptimizer { trainer.optimizer }
    /// The last epoch of the fit (epochs are counted from 1, also when resuming).
    public let epochs: Int
    /// Training batches per epoch.
    public let batchesPerEpoch: Int
    /// True when this fit continues from a checkpoint (one-off preparations are skipped).
    public let isResuming: Bool

    /// The current epoch (1-based) and batch within it (1-based).
    public internal(set) var epoch = 0
    /// The current batch within the epoch (1-based).
    public internal(set) var batch = 0
    /// The current batch: images and labels, and soft targets when a callback mixed it.
    public var images = Tensor.zeros([0])
    /// The current batch's class indices.
    public internal(set) var labels: [Int] = []
    /// [batch, classes] targets set by a mixing callback; the loss then uses them instead of `labels`.
    public var softTargets: Tensor?
    /// The current batch's loss (set before `afterBackward`).
    public internal(set) var loss: Float = .nan
    /// Images trained on so far this epoch, and when the epoch began.
    public internal(set) var imagesSeen = 0
    /// When the current epoch began.
    public internal(set) var epochStarted = Date()
    /// Every finished epoch's record, and the current one at `epochEnded` (callbacks may
    /// add to it before it is logged).
    public internal(set) var history: [EpochRecord] = []
    /// The current epoch's record, set just before `epochEnded` (nil before).
    public var record: EpochRecord?
    /// The current epoch's validation pass, set just before `epochEnded`; nil without a validation split.
    public internal(set) var validation: Evaluation?
    /// The error fit is ending with, at `fitEnded`.
    public internal(set) var error: Error?
    /// The first stop requested, if any.
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
