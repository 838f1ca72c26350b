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
    public let factor: Float
    public private(set) var initialLoss: Float?
    private var average: Float?
    private var watched: [(key: String, parameter: Parameter)] = []

    public init(factor: Float = 3) {
        self.factor = factor
    }

    public func fitBegan(_ context: TrainingContext) throws {
        watched = context.model.trainableParameters
        if !context.isResuming {
            initialLoss = nil
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

    public func batchEnded(_ context: TrainingContext) throws {
        if let bad = watched.first(where: { $0.parameter.value.hasNonFinite }) {
            throw TrainingError.nonFiniteWeights(
                epoch: context.epoch, batch: context.batch, parameter: bad.key,
                learningRate: baseRate(context))
        }
    }

    public var checkpointName: String { "divergence_guard" }

    private struct State: Codable {
        var initialLoss: Float?
        var average: Float?
    }

    public func checkpointState() throws -> CallbackState {
        try CallbackState(State(initialLoss: initialLoss, average: average))
    }

    public func restore(_ state: CallbackState) throws {
        let saved = try state.decode(State.self)
        initialLoss = saved.initialLoss
        average = saved.average
    }
}
