import Engine
import Foundation
import Layers
import Optimizers
import Vision

/// Why training could not go on.
public enum TrainingError: Error, CustomStringConvertible {
    /// The loss became NaN or infinite (`cause`: the first op that produced it, when known).
    case nonFiniteLoss(epoch: Int, batch: Int, learningRate: Float, cause: String?)
    /// The loss rose above `factor` times the first batch's loss: the run diverges.
    case lossExploded(epoch: Int, batch: Int, loss: Float, initial: Float, factor: Float, learningRate: Float)
    /// An update left NaN or infinite values in a parameter (ReLU can hide them from the loss).
    case nonFiniteWeights(epoch: Int, batch: Int, parameter: String, learningRate: Float)
    /// There was nothing to train on; the text names what was missing ("training images").
    case noData(String)

    /// What went wrong, where (epoch, batch), and for divergence the advice: a ten times lower rate,
    /// clipping, or `finetune lr-find`.
    public var description: String {
        switch self {
        case .nonFiniteLoss(let epoch, let batch, let rate, let cause):
            return "the loss became NaN or infinite in epoch \(epoch), batch \(batch)"
                + (cause.map { " (first non-finite value: \($0))" } ?? "") + ". " + Self.advice(rate)
        case .lossExploded(let epoch, let batch, let loss, let initial, let factor, let rate):
            return String(
                format:
                    "the loss rose to %.4g in epoch %d, batch %d, over %.0fx the first batch's %.4g: the run diverges. ",
                loss, epoch, batch, factor, initial) + Self.advice(rate)
        case .nonFiniteWeights(let epoch, let batch, let parameter, let rate):
            return "the update of epoch \(epoch), batch \(batch) left NaN or infinite values in \(parameter). "
                + Self.advice(rate)
        case .noData(let what): return "no \(what) to train on"
        }
    }

    /// The likely cause and the fix: a learning rate ten times smaller, clipping, lr-find.
    static func advice(_ rate: Float) -> String {
        let lower = String(format: "%.2g", Double(rate) / 10)
        return String(
            format: "The learning rate %.2g is probably too high: try --lr %@ (ten times lower) or less, ",
            Double(rate), lower)
            + "clip gradients with --clip-norm 1, or let `finetune lr-find` suggest one"
    }
}

/// The training loop: a small core that runs epochs of forward, loss, backward and step, and
/// hands every event to its callbacks (`TrainingCallback`). Early stopping, the divergence
/// guard, schedules, logs, progress, checkpoints, clipping and mixing are all callbacks.
///
/// However `fit` ends, every callback sees `fitEnded` (early stopping restores the best
/// weights there) and the model is left in inference mode.
public final class Trainer {
    /// The model trained in place.
    public let model: Module
    /// The optimiser over the model's trainable parameters; its step count drives schedules and seeds.
    public let optimizer: any GradientOptimizer
    /// The objective of training and of the validation pass.
    public var loss: ClassificationLoss
    /// The callbacks, in the order they see every event.
    public var callbacks: [TrainingCallback]
    /// Seeds the dropout masks: step s of layer l draws from `(seed, s, l)`, so a resumed run
    /// draws the same masks as an uninterrupted one.
    public var seed: UInt64
    /// The context of the running (or last) fit.
    public private(set) var context: TrainingContext?

    /// A trainer of `model` with `optimizer`, `loss` and `callbacks`; `seed` fixes the dropout masks.
    public init(
        model: Module, optimizer: any GradientOptimizer, loss: ClassificationLoss = ClassificationLoss(),
        callbacks: [TrainingCallback] = [], seed: UInt64 = 0
    ) {
        self.model = model
        self.optimizer = optimizer
        self.loss = loss
        self.callbacks = callbacks
        self.seed = seed
    }

    /// The first callback of type `T`.
    public func callback<T: TrainingCallback>(_ type: T.Type) -> T? { callbacks.lazy.compactMap { $0 as? T }.first }

    /// Runs epochs until `epochs` (counted from 1, also when resuming) or a stop request, and
    /// returns every epoch's record (those of the checkpoint first, when resuming).
    @discardableResult
    public func fit(
        train: BatchSource, validation: BatchSource?, epochs: Int,
        resumingFrom checkpoint: TrainingCheckpoint? = nil
    ) throws -> [EpochRecord] {
        guard train.count > 0 else { throw TrainingError.noData("training images") }
        let context = TrainingContext(
            trainer: self, epochs: epochs, batchesPerEpoch: train.batchesPerEpoch,
            isResuming: checkpoint != nil)
        self.context = context
        if let checkpoint { try restore(checkpoint, into: context) }
        do {
            try each { try $0.fitBegan(context) }
            var epoch = context.history.count
            while epoch < epochs && context.stopReason == nil {
                epoch += 1
                try runEpoch(epoch, train: train, validation: validation, context: context)
            }
        } catch {
            context.error = error
        }
        model.eval()
        // Every callback sees the end, even after an error; the first error is rethrown.
        var ending = context.error
        for callback in callbacks {
            do { try callback.fitEnded(context) } catch { ending = ending ?? error }
        }
        model.eval()
        if let ending { throw ending }
        return context.history
    }

    private func each(_ event: (TrainingCallback) throws -> Void) rethrows {
        for callback in callbacks { try event(callback) }
    }

    private func runEpoch(_ epoch: Int, train: BatchSource, validation: BatchSource?, context: TrainingContext) throws {
        context.epoch = epoch
        context.batch = 0
        context.imagesSeen = 0
        context.record = nil
        context.validation = nil
        context.epochStarted = Date()
        model.train()  // before the callbacks, which may set modes of their own (dropout off)
        try each { try $0.epochBegan(context) }
        var totalLoss = 0.0
        var correct = 0
        for batch in train.batches(epoch: epoch) {
            context.batch += 1
            context.images = batch.images
            context.labels = batch.labels
            context.softTargets = nil
            try each { try $0.batchBegan(context) }
            let logits = try step(context)
            totalLoss += Double(context.loss) * Double(batch.labels.count)
            correct += zip(logits.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
            context.imagesSeen += batch.labels.count
            try each { try $0.batchEnded(context) }
            if context.stopReason != nil { return }  // an unfinished epoch is not recorded
        }
        let evaluation = validation.map { evaluate(model, on: $0, loss: loss) }
        let seconds = Date().timeIntervalSince(context.epochStarted)
        let seen = max(context.imagesSeen, 1)
        context.validation = evaluation
        context.record = EpochRecord(
            epoch: epoch, trainLoss: totalLoss / Double(seen), trainAccuracy: Double(correct) / Double(seen),
            validationLoss: evaluation.flatMap { $0.loss.isFinite ? $0.loss : nil },  // JSON has no NaN
            validationAccuracy: evaluation?.accuracy, learningRate: Double(context.learningRate), seconds: seconds,
            imagesPerSecond: Double(context.imagesSeen) / max(seconds, 1e-9))
        try each { try $0.epochEnded(context) }
        context.history.append(context.record!)
    }

    /// One optimiser step on the context's batch; returns the logits.
    private func step(_ context: TrainingContext) throws -> Tensor {
        reseedDropout(step: optimizer.stepCount)
        optimizer.zeroGrad()
        Numerics.reset()
        let logits = model(Variable(context.images))
        var objective = try loss(logits, labels: context.labels, softTargets: context.softTargets)
        if let penalty = optimizer.penalty() { objective = objective + penalty }
        context.loss = objective.value.scalar
        if context.loss.isFinite { objective.backward() }
        try each { try $0.afterBackward(context) }
        optimizer.step()
        return logits.value
    }

    /// Dropout and DropBlock layers, in the model's order.
    private lazy var dropoutLayers: [any Reseedable] = model.namedModules.compactMap { $0.module as? any Reseedable }

    private func reseedDropout(step: Int) {
        for (index, layer) in dropoutLayers.enumerated() {
            layer.reseed(mixSeeds(seed, UInt64(step), UInt64(index)))
        }
    }
}

/// A well-mixed 64-bit seed from several (SplitMix64 rounds).
func mixSeeds(_ values: UInt64...) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15
    for v in values {
        h = (h ^ v) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
    }
    return h
}
