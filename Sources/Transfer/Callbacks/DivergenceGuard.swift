import Engine
import Foundation
import Layers

/// Stops a diverging run (the lecture notes' recipe): a NaN or infinite loss, a loss whose
/// running average (β = 0.9) climbs above `factor` times the first batch's loss (taken
/// before any update; at least 0.5), or NaN / infinite
/// weights after a step (ReLU turns NaN into 0, so a loss can stay finite over them). The
/// error says the learning rate is probably too high and what to try; early stopping then
/// restores the best weights, which the caller saves.
public final class DivergenceGuard: CheckpointableCallback {
    /// How many times the first batch's loss (at least 0.5) the smoothed loss may reach before the run
    /// counts as diverging.
    public let factor: Float
    /// The first batch's loss (before any update); nil until the first batch of a fresh fit.
    public private(set) var initialLoss: Float?
    private var average: Float?
    private var watched: [(key: String, parameter: Parameter)] = []

    /// A guard that stops training once the smoothed loss exceeds `factor` times the first batch's.
    public init(factor: Float = 3) {
        self.factor = factor
    }

    /// Watches the trainable parameters and, unless resuming, forgets the first loss and the average.
    public func fitBegan(_ context: TrainingContext) throws {
        watched = context.model.trainableParameters
        if !context.isResuming {
            initialLoss = nil
            average = nil
        }
    }

    /// Watches the parameters trainable now (a two-phase fine-tune unfreezes more).
    public func epochBegan(_ context: TrainingContext) throws {
        watched = context.model.trainableParameters  // a two-phase fine-tune unfreezes more
    }

    /// Checks the batch's loss.
    /// - Throws: `TrainingError.nonFiniteLoss` (naming the first failing op) or `.lossExploded`.
    public func afterBackward(_ context: TrainingContext) throws {
        let loss = context.loss
        guard loss.isFinite else {
            throw TrainingError.nonFiniteLoss(
                epoch: context.epoch, batch: context.batch, learningRate: baseRate(context),
                cause: firstFailingOp(context))
        }
        guard let initial = initialLoss else {
            initialLoss = loss
            average = loss
            return
        }
        let smoothed = (average ?? loss) * 0.9 + loss * 0.1
        average = smoothed
        if smoothed > factor * max(initial, 0.5) {
            throw TrainingError.lossExploded(
                epoch: context.epoch, batch: context.batch, loss: smoothed, initial: initial,
                factor: factor, learningRate: baseRate(context))
        }
    }

    /// Replays the batch's forward pass with the NaN/Inf scan on, to name the op at fault
    /// (the scan is off during training: it costs 15-19% of a step).
    private func firstFailingOp(_ context: TrainingContext) -> String? {
        Numerics.firstFailure(replaying: {
            _ = Autodiff.withoutGradients { context.model(Variable(context.images)) }
        })?.description ?? Numerics.firstFailure?.description
    }

    /// The rate the user chose (the first group's, before the schedule's factor).
    private func baseRate(_ context: TrainingContext) -> Float {
        context.optimizer.groups.first?.learningRate ?? context.learningRate
    }

    /// Checks the watched parameters after the step.
    /// - Throws: `TrainingError.nonFiniteWeights` naming the first parameter with NaN or infinite values.
    public func batchEnded(_ context: TrainingContext) throws {
        if let bad = watched.first(where: { $0.parameter.value.hasNonFinite }) {
            throw TrainingError.nonFiniteWeights(
                epoch: context.epoch, batch: context.batch, parameter: bad.key,
                learningRate: baseRate(context))
        }
    }

    /// The state's name in checkpoints: `divergence_guard`.
    public var checkpointName: String { "divergence_guard" }

    private struct State: Codable {
        var initialLoss: Float?
        var average: Float?
    }

    /// The first loss and the running average, as JSON.
    public func checkpointState() throws -> CallbackState {
        try CallbackState(State(initialLoss: initialLoss, average: average))
    }

    /// Puts back the first loss and the running average.
    public func restore(_ state: CallbackState) throws {
        let saved = try state.decode(State.self)
        initialLoss = saved.initialLoss
        average = saved.average
    }
}
