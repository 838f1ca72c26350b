import Engine
import Foundation
import Layers

/// Stops a diverging run (the lecture notes' recipe): a NaN or infinite loss, a loss whose
/// running average climbs above `factor` times the first batches' loss, or NaN / infinite
/// weights after a step (ReLU turns NaN into 0, so a loss can stay finite over them). The
/// error says the learning rate is probably too high and what to try; early stopping then
/// restores the best weights, which the caller saves.
public final class DivergenceGuard: CheckpointableCallback {
    public let factor: Float
    /// Batches averaged for the reference loss.
    public let window: Int
    public private(set) var initialLoss: Float?
    private var firstLosses: [Float] = []
    private var average: Float?
    private var watched: [(key: String, parameter: Parameter)] = []

    public init(factor: Float = 3, window: Int = 5) {
        self.factor = factor
        self.window = window
    }

    public func fitBegan(_ context: TrainingContext) throws {
        watched = context.model.trainableParameters
        if !context.isResuming {
            initialLoss = nil
            firstLosses = []
            average = nil
        }
    }

    public func epochBegan(_ context: TrainingContext) throws {
        watched = context.model.trainableParameters  // a two-phase fine-tune unfreezes more
    }

    public func afterBackward(_ context: TrainingContext) throws {
        let loss = context.loss
        guard loss.isFinite else {
            throw TrainingError.nonFiniteLoss(
                epoch: context.epoch, batch: context.batch, learningRate: context.learningRate,
                cause: Numerics.firstFailure?.description)
        }
        guard let initial = initialLoss else {
            firstLosses.append(loss)
            if firstLosses.count == window { initialLoss = firstLosses.reduce(0, +) / Float(window) }
            return
        }
        let smoothed = (average ?? loss) * 0.9 + loss * 0.1
        average = smoothed
        if smoothed > factor * max(initial, 0.1) {
            throw TrainingError.lossExploded(
                epoch: context.epoch, batch: context.batch, loss: smoothed, initial: initial,
                factor: factor, learningRate: context.learningRate)
        }
    }

    public func batchEnded(_ context: TrainingContext) throws {
        if let bad = watched.first(where: { $0.parameter.value.hasNonFinite }) {
            throw TrainingError.nonFiniteWeights(
                epoch: context.epoch, batch: context.batch, parameter: bad.key,
                learningRate: context.learningRate)
        }
    }

    public var checkpointName: String { "divergence_guard" }

    private struct State: Codable {
        var initialLoss: Float?
        var firstLosses: [Float]
        var average: Float?
    }

    public func checkpointState() throws -> CallbackState {
        try CallbackState(State(initialLoss: initialLoss, firstLosses: firstLosses, average: average))
    }

    public func restore(_ state: CallbackState) throws {
        let saved = try state.decode(State.self)
        initialLoss = saved.initialLoss
        firstLosses = saved.firstLosses
        average = saved.average
    }
}
