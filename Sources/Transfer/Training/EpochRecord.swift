import Foundation

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
    /// Mean ‖Δw‖ / ‖w‖ per optimiser step, per stage (`UpdateRatioMonitor`); about 1e-3 is healthy.
    public var updateRatios: [String: Double]?
    /// Which phase of a two-phase fine-tune the epoch belonged to ("head" or "body").
    public var phase: String?

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
    public var loss: Double
    public var accuracy: Double
    public var confusion: [[Int]]
}
