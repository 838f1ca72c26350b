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
    public let schedule: any LearningRateSchedule
    public let warmupSteps: Int
    public let plateau: ReduceOnPlateau?

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

    public func batchBegan(_ context: TrainingContext) throws {
        context.optimizer.learningRateFactor = factor(at: context.optimizer.stepCount)
    }

    public func epochEnded(_ context: TrainingContext) throws {
        guard let plateau, let record = context.record else { return }
        plateau.observe(Float(record.validationLoss ?? record.trainLoss))
    }

    public var checkpointName: String { "learning_rate" }

    public func checkpointState() throws -> CallbackState { try CallbackState(plateau?.state) }

    public func restore(_ state: CallbackState) throws {
        if let saved = try state.decode(ReduceOnPlateau.State?.self) { plateau?.state = saved }
    }
}

/// Clips the gradients before each step: by global norm (`clip_grad_norm_`) or by value.
public final class ClipGradients: TrainingCallback {
    public enum Rule: Equatable, Sendable {
        case globalNorm(Float)
        case value(Float)
    }
    public let rule: Rule
    /// The global norm before clipping, at the last step (`globalNorm` only).
    public private(set) var lastNorm: Float?

    public init(_ rule: Rule) { self.rule = rule }

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
    public let mix: BatchMix
    public let classes: Int
    public let seed: UInt64

    public init(_ mix: BatchMix, classes: Int, seed: UInt64) {
        self.mix = mix
        self.classes = classes
        self.seed = seed
    }

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
