import Foundation

/// One epoch's figures, as written to a run's JSON-lines log.
public struct EpochRecord: Codable, Equatable, Sendable {
    /// The epoch's number (1-based).
    public var epoch: Int
    /// The mean training loss over the epoch's images (with augmentation, mixing and dropout, as trained).
    public var trainLoss: Double
    /// The share of training images whose logits' argmax was their label, during the epoch's steps.
    public var trainAccuracy: Double
    /// The validation loss after the epoch (nil without a validation split, or when it was not finite).
    public var validationLoss: Double?
    /// The validation accuracy after the epoch, in [0, 1]; nil without a validation split.
    public var validationAccuracy: Double?
    /// The first parameter group's learning rate at the epoch's last step, schedule included.
    public var learningRate: Double
    /// Wall-clock seconds of the epoch, validation included.
    public var seconds: Double
    /// Training images per second over the epoch's wall-clock time.
    public var imagesPerSecond: Double
    /// Mean ‖Δw‖ / ‖w‖ per optimiser step, per stage (`UpdateRatioMonitor`); about 1e-3 is healthy.
    public var updateRatios: [String: Double]?
    /// Which phase of a two-phase fine-tune the epoch belonged to ("head" or "body").
    public var phase: String?

    /// A record of one epoch's figures; `updateRatios` and `phase` start nil.
    public init(
        epoch: Int, trainLoss: Double, trainAccuracy: Double, validationLoss: Double?, validationAccuracy: Double?,
        learningRate: Double, seconds: Double, imagesPerSecond: Double
    ) {
        self.epoch = epoch
        self.trainLoss = trainLoss
        self.trainAccuracy = trainAccuracy
        self.validationLoss = validationLoss
        self.validationAccuracy = validationAccuracy
        self.learningRate = learningRate
        self.seconds = seconds
        self.imagesPerSecond = imagesPerSecond
    }
}

/// Loss, accuracy and confusion matrix (rows: true class, columns: predicted) of a pass.
public struct Evaluation: Sendable {
    /// The mean loss per image, under the objective of the pass (validation: the trainer's own loss).
    public var loss: Double
    /// The share of images classified right, in [0, 1].
    public var accuracy: Double
    /// Counts by true class (row) and predicted class (column).
    public var confusion: [[Int]]
}
