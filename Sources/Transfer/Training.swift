import Engine
import Foundation
import Layers
import Optimizers
import Vision
import Zoo

/// One epoch's figures, as written to a run's JSON-lines log.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double?
    public var validationAccuracy: Double?
    public var learningRate: Double
    public var seconds: Double
    public var imagesPerSecond: Double
}

/// Stops training when the monitored validation figure has not improved by `minDelta` for
/// `patience` epochs. Whenever training ends — stopped early or not — the weights of the
/// best epoch are restored (keras#12511), and no state survives from one `fit` to the next
/// (keras#13488).
public struct EarlyStopping: Sendable {
    public enum Monitor: String, Sendable { case validationLoss, validationAccuracy }
    public var monitor: Monitor
    public var patience: Int
    public var minDelta: Double

    public init(monitor: Monitor = .validationLoss, patience: Int = 5, minDelta: Double = 0) {
        self.monitor = monitor; self.patience = patience; self.minDelta = minDelta
    }
}

public enum TrainingError: Error, CustomStringConvertible {
    case nonFiniteLoss(epoch: Int, batch: Int, cause: String?)
    case nonFiniteWeights(epoch: Int, batch: Int, parameter: String)
    case noData(String)

    public var description: String {
        switch self {
        case let .nonFiniteLoss(epoch, batch, cause):
            return "the loss became NaN or infinite in epoch \(epoch), batch \(batch)"
                + (cause.map { " (first non-finite value: \($0))" } ?? "")
                + "; the weights of the best epoch so far were restored. Lower the learning rate or clip gradients"
        case let .nonFiniteWeights(epoch, batch, parameter):
            return "the update of epoch \(epoch), batch \(batch) left NaN or infinite values in \(parameter); the weights of the best epoch so far were restored. Lower the learning rate or clip gradients"
        case let .noData(what): return "no \(what) to train on"
        }
    }
}

/// Loss, accuracy and confusion matrix (rows: true class, columns: predicted) of a pass.
public struct Evaluation: Sendable {
    public var loss: Double
    public var accuracy: Double
    public var confusion: [[Int]]
}

/// The values of every parameter and buffer, to return to (tensors share storage until
/// written, so a snapshot costs no copy).
struct Snapshot {
    let parameters: [Tensor]
    let buffers: [Tensor]

    init(_ model: Module) {
        parameters = model.namedParameters.map(\.parameter.value)
        buffers = model.namedBuffers.map(\.buffer.value)
    }

    func restore(into model: Module) {
        for ((_, p), v) in zip(model.namedParameters, parameters) { p.value = v }
        for ((_, b), v) in zip(model.namedBuffers, buffers) { b.value = v }
    }
}

/// Trains a classifier: softmax cross-entropy (optional class weights and label smoothing),
/// the optimiser's penalties, a per-step schedule, early stopping with best-weight restore.
public final class Trainer {
    public let model: any ZooModel
    public let optimizer: any GradientOptimizer
    public var schedule: (any LearningRateSchedule)?
    public var classWeights: Tensor?
    public var labelSmoothing: Float = 0

    public init(model: any ZooModel, optimizer: any GradientOptimizer) {
        self.model = model
        self.optimizer = optimizer
    }

    /// Runs up to `epochs` epochs and returns the history. However it ends (finished, stopped
    /// early, or a NaN loss), the model is left in inference mode with the weights of the best
    /// epoch: by the early-stopping monitor, else by validation loss, else by training loss.
    /// `onBatch(epoch, batch, batches, images so far, seconds so far)` reports progress within an epoch.
    public func fit(train: BatchLoader, validation: BatchLoader?, epochs: Int, earlyStopping: EarlyStopping? = nil,
                    onBatch: (Int, Int, Int, Int, Double) -> Void = { _, _, _, _, _ in },
                    onEpoch: (EpochRecord) throws -> Void = { _ in }) throws -> [EpochRecord] {
        guard train.indices.count > 0 else { throw TrainingError.noData("training images") }
        var history: [EpochRecord] = []
        var best: (score: Double, snapshot: Snapshot)? = nil
        var epochsWithoutImprovement = 0
        let startSnapshot = Snapshot(model)
        let watched = model.trainableParameters  // found by reflection once, not per step
        defer {
            (best?.snapshot ?? startSnapshot).restore(into: model)
            model.eval()
        }
        for epoch in 1...epochs {
            let started = Date()
            model.train()
            var totalLoss = 0.0, correct = 0, seen = 0, batchIndex = 0
            for batch in train.batches(epoch: epoch) {
                batchIndex += 1
                if let schedule { optimizer.learningRateFactor = schedule.factor(at: optimizer.stepCount) }
                optimizer.zeroGrad()
                Numerics.reset()
                let logits = model(Variable(batch.images))
                var loss = try softmaxCrossEntropy(logits: logits, labels: batch.labels, labelSmoothing: labelSmoothing,
                                                   classWeights: classWeights)
                if let penalty = optimizer.penalty() { loss = loss + penalty }
                guard loss.value.scalar.isFinite else {
                    throw TrainingError.nonFiniteLoss(epoch: epoch, batch: batchIndex, cause: Numerics.firstFailure?.description)
                }
                loss.backward()
                optimizer.step()
                // ReLU turns NaN into 0, so a loss can stay finite over NaN weights: check them too.
                if let bad = watched.first(where: { $0.parameter.value.hasNonFinite }) {
                    throw TrainingError.nonFiniteWeights(epoch: epoch, batch: batchIndex, parameter: bad.key)
                }
                totalLoss += Double(loss.value.scalar) * Double(batch.labels.count)
                correct += zip(logits.value.argmax(axis: 1), batch.labels).filter { $0 == $1 }.count
                seen += batch.labels.count
                onBatch(epoch, batchIndex, train.batchesPerEpoch, seen, Date().timeIntervalSince(started))
            }
            let evaluation = validation.map { evaluate($0, classWeights: classWeights, labelSmoothing: labelSmoothing) }
            let seconds = Date().timeIntervalSince(started)
            let record = EpochRecord(epoch: epoch, trainLoss: totalLoss / Double(max(seen, 1)), trainAccuracy: Double(correct) / Double(max(seen, 1)),
                                     validationLoss: evaluation.flatMap { $0.loss.isFinite ? $0.loss : nil },  // JSON has no NaN
                                     validationAccuracy: evaluation?.accuracy,
                                     learningRate: Double(optimizer.learningRateFactor * (optimizer.groups.first?.learningRate ?? 0)),
                                     seconds: seconds, imagesPerSecond: Double(seen) / max(seconds, 1e-9))
            history.append(record)
            try onEpoch(record)
            // Higher score is better.
            var score: Double
            switch (earlyStopping?.monitor, evaluation) {
            case (.validationAccuracy?, let e?): score = e.accuracy
            case (_, let e?): score = -e.loss
            default: score = -record.trainLoss
            }
            if !score.isFinite { score = -.infinity }  // a NaN epoch never becomes the best
            if best == nil || score > best!.score + (earlyStopping?.minDelta ?? 0) {
                best = (score, Snapshot(model))
                epochsWithoutImprovement = 0
            } else {
                epochsWithoutImprovement += 1
                if let stop = earlyStopping, epochsWithoutImprovement >= stop.patience { break }
            }
        }
        return history
    }

    /// Loss, accuracy and confusion matrix on `loader`'s images, in inference mode. The loss
    /// uses the given class weights and label smoothing (the training objective's, when
    /// monitoring for early stopping).
    public func evaluate(_ loader: BatchLoader, classWeights: Tensor? = nil, labelSmoothing: Float = 0) -> Evaluation {
        model.eval()
        let classes = loader.source.classNames.count
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var totalLoss = 0.0, seen = 0
        for batch in loader.batches(epoch: 0) {
            let logits = model.predict(batch.images)
            // Labels come from the same dataset as the head's classes, so this cannot fail.
            let loss = try! softmaxCrossEntropy(logits: Variable(logits), labels: batch.labels, labelSmoothing: labelSmoothing,
                                                classWeights: classWeights)
            totalLoss += Double(loss.value.scalar) * Double(batch.labels.count)
            for (predicted, truth) in zip(logits.argmax(axis: 1), batch.labels) where predicted < classes { confusion[truth][predicted] += 1 }
            seen += batch.labels.count
        }
        let correct = (0..<classes).reduce(0) { $0 + confusion[$1][$1] }
        return Evaluation(loss: totalLoss / Double(max(seen, 1)), accuracy: Double(correct) / Double(max(seen, 1)), confusion: confusion)
    }
}
