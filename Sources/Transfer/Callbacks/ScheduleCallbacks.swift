import Engine
import Foundation
import Layers
import Optimizers
import Vision

/// Sets the learning-rate factor before every step: a linear warm-up over `warmupSteps`,
/// then `schedule` (counted from the end of the warm-up), times the plateau factor when a
/// `ReduceOnPlateau` watches the validation loss (fed once per epoch). The position is the
/// optimiser's step count, which checkpoints keep, so a resumed run continues the schedule.
public final class LearningRateScheduler: CheckpointableCallback {
    /// The factor schedule after warm-up, counted in optimiser steps from the end of the warm-up.
    public let schedule: any LearningRateSchedule
    /// Steps of linear warm-up: step s (0-based) gets factor (s + 1) / `warmupSteps`; 0 for none.
    public let warmupSteps: Int
    /// An extra factor cut when the validation loss (training loss without validation) stops improving.
    public let plateau: ReduceOnPlateau?

    /// A scheduler of `schedule` after `warmupSteps` warm-up steps, optionally with a plateau rule;
    /// the default is a constant rate.
    public init(
        _ schedule: any LearningRateSchedule = ConstantSchedule(), warmupSteps: Int = 0, plateau: ReduceOnPlateau? = nil
    ) {
        self.schedule = schedule
        self.warmupSteps = warmupSteps
        self.plateau = plateau
    }

    /// The factor at optimiser step `step`.
    public func factor(at step: Int) -> Float {
        let base = step < warmupSteps ? Float(step + 1) / Float(warmupSteps) : schedule.factor(at: step - warmupSteps)
        return base * (plateau?.current ?? 1)
    }

    /// Sets the optimiser's learning-rate factor for the coming step.
    public func batchBegan(_ context: TrainingContext) throws {
        context.optimizer.learningRateFactor = factor(at: context.optimizer.stepCount)
    }

    /// Feeds the epoch's validation loss (or training loss) to the plateau rule, if any.
    public func epochEnded(_ context: TrainingContext) throws {
        guard let plateau, let record = context.record else { return }
        plateau.observe(Float(record.validationLoss ?? record.trainLoss))
    }

    /// The state's name in checkpoints: `learning_rate`.
    public var checkpointName: String { "learning_rate" }

    /// The plateau rule's counters as JSON (null without one); the position is the optimiser's step count.
    public func checkpointState() throws -> CallbackState { try CallbackState(plateau?.state) }

    /// Puts back the plateau rule's counters.
    public func restore(_ state: CallbackState) throws {
        if let saved = try state.decode(ReduceOnPlateau.State?.self) { plateau?.state = saved }
    }
}

/// Clips the gradients before each step: by global norm (`clip_grad_norm_`) or by value.
public final class ClipGradients: TrainingCallback {
    /// How gradients are clipped.
    public enum Rule: Equatable, Sendable {
        /// Scale all trainable gradients together so their global L2 norm is at most this.
        case globalNorm(Float)
        /// Clamp every gradient element to [-value, value].
        case value(Float)
    }
    /// The bound applied at every step: a global norm or a per-element value.
    public let rule: Rule
    /// The global norm before clipping, at the last step (`globalNorm` only).
    public private(set) var lastNorm: Float?

    /// Clips by `rule` after every backward pass.
    public init(_ rule: Rule) { self.rule = rule }

    /// Clips the trainable parameters' gradients, before the optimiser step.
    public func afterBackward(_ context: TrainingContext) throws {
        let parameters = context.model.trainableParameters.map(\.parameter)
        switch rule {
        case .globalNorm(let maxNorm): lastNorm = GradientClipping.clipByGlobalNorm(parameters, maxNorm: maxNorm)
        case .value(let maxValue): GradientClipping.clipByValue(parameters, maxValue: maxValue)
        }
    }
}

/// Mixup or cutmix on every training batch (`BatchMix`), drawn from `(seed, step)` so a
/// resumed run mixes the same pairs; the loss then uses the soft targets.
public final class BatchMixing: TrainingCallback {
    /// Mixup or cutmix, with its Beta(α, α) parameter.
    public let mix: BatchMix
    /// The number of classes, for the one-hot targets that are mixed.
    public let classes: Int
    /// Mixed with the optimiser's step count to draw each batch's pairs and λ.
    public let seed: UInt64

    /// Mixing of batches of `classes`-way labels, reproducible from `seed`.
    public init(_ mix: BatchMix, classes: Int, seed: UInt64) {
        self.mix = mix
        self.classes = classes
        self.seed = seed
    }

    /// Replaces the batch's images with mixed ones and sets `context.softTargets` to the mixed one-hot targets.
    public func batchBegan(_ context: TrainingContext) throws {
        var rng = RandomGenerator(seed: mixSeeds(seed, UInt64(context.optimizer.stepCount), 0xB1E4D))
        let classes = classes
        let onehot = Tensor(shape: [context.labels.count, classes]) { t in
            for i in t.indices { t[i] = 0 }
            for (i, label) in context.labels.enumerated() { t[i * classes + label] = 1 }
        }
        let mixed = mix.apply(images: context.images, targets: onehot, using: &rng)
        context.images = mixed.images
        context.softTargets = mixed.targets
    }
}
