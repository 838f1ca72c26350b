import Engine
import Foundation
import Layers
import Optimizers
import Zoo

/// The optimiser, parameter groups and schedule that options describe, built from one place
/// and described from the objects built (the run summary's recipe line).
public enum Recipe {
    /// The optimiser over every parameter that will ever train: the head at the base rate and,
    /// with a body factor F, each stage below it at F times the rate of the stage above
    /// (fastai's discriminative rates). Call after freezing to the final `--freeze N`.
    public static func optimizer(_ options: FineTuneOptions, model: any ZooModel) -> any GradientOptimizer {
        let groups = parameterGroups(options, model: model)
        switch options.optimizer {
        case .sgd: return Optimizer(SGD(), groups: groups)
        case .momentum: return Optimizer(SGD(momentum: options.momentum), groups: groups)
        case .nesterov: return Optimizer(SGD(momentum: options.momentum, nesterov: true), groups: groups)
        case .adam: return Optimizer(Adam(), groups: groups)
        case .adamw: return Optimizer(Adam(decoupledWeightDecay: true), groups: groups)
        case .nadam: return Optimizer(NAdam(), groups: groups)
        case .rmsprop: return Optimizer(RMSProp(), groups: groups)
        case .adagrad: return Optimizer(Adagrad(), groups: groups)
        case .adadelta: return Optimizer(Adadelta(), groups: groups)
        }
    }

    static func parameterGroups(_ options: FineTuneOptions, model: any ZooModel) -> [ParameterGroup] {
        let trainable = model.trainableParameters
        let rate = options.learningRate
        let decay = options.weightDecay
        let penalty: Regularizer? = options.l1 > 0 ? .l1(options.l1) : nil
        guard options.bodyLearningRateFactor != 1 else {
            return [ParameterGroup(trainable, learningRate: rate, weightDecay: decay, regularizer: penalty)]
        }
        var groups: [ParameterGroup] = []
        var assigned = Set<String>()
        // From the last stage down: stage S-1 at rate·F, S-2 at rate·F², …
        for (depth, stage) in model.stages.reversed().enumerated() {
            let key = model.namedModules.first { $0.module === stage.module }?.key ?? stage.name
            let members = trainable.filter { $0.key.hasPrefix(key + ".") }
            guard !members.isEmpty else { continue }
            let factor = Float(Foundation.pow(Double(options.bodyLearningRateFactor), Double(depth + 1)))
            groups.append(
                ParameterGroup(members, learningRate: rate * factor, weightDecay: decay, regularizer: penalty))
            assigned.formUnion(members.map(\.key))
        }
        let rest = trainable.filter { !assigned.contains($0.key) }
        return [ParameterGroup(rest, learningRate: rate, weightDecay: decay, regularizer: penalty)] + groups.reversed()
    }

    /// The per-step schedule (and plateau watcher) for `stepsPerEpoch` steps per epoch.
    public static func scheduler(_ options: FineTuneOptions, stepsPerEpoch: Int) -> LearningRateScheduler {
        let warmup = options.warmupEpochs * stepsPerEpoch
        let steps = max(1, options.epochs * stepsPerEpoch - warmup)
        switch options.schedule {
        case .constant: return LearningRateScheduler(ConstantSchedule(), warmupSteps: warmup)
        case .step: return LearningRateScheduler(StepDecay(every: max(1, steps / 3), gamma: 0.1), warmupSteps: warmup)
        case .exponential:
            // Down to 1% of the rate by the last step.
            return LearningRateScheduler(
                ExponentialDecay(gamma: Float(Foundation.pow(0.01, 1 / Double(steps)))), warmupSteps: warmup)
        case .inverseTime:
            // 1 / (1 + 9 · step / steps): 10% by the last step.
            return LearningRateScheduler(InverseTimeDecay(rate: 9, every: steps), warmupSteps: warmup)
        case .cosine: return LearningRateScheduler(CosineDecay(period: steps, minimum: 0.01), warmupSteps: warmup)
        case .onecycle:
            let total = max(steps + warmup, 4)
            return LearningRateScheduler(OneCycle(totalSteps: total, warmupFraction: 0.3))
        case .restarts:
            let period = cycleEpochs(options) * stepsPerEpoch
            return LearningRateScheduler(
                CosineWarmRestarts(period: period, minimum: 0.01, cycles: options.cycles), warmupSteps: warmup)
        case .plateau:
            return LearningRateScheduler(
                ConstantSchedule(), warmupSteps: warmup,
                plateau: ReduceOnPlateau(factor: 0.1, patience: max(1, options.patience / 2)))
        }
    }

    /// The length in epochs of one warm-restart cycle (`--schedule restarts`): the epochs after
    /// warm-up shared equally by `options.cycles`, rounded down.
    public static func cycleEpochs(_ options: FineTuneOptions) -> Int {
        max(1, (options.epochs - options.warmupEpochs) / options.cycles)
    }

    /// The epochs (1-based) at whose end a warm-restart cycle ends, where `--snapshots` saves a model.
    public static func cycleEnds(_ options: FineTuneOptions) -> [Int] {
        (1...options.cycles).map { options.warmupEpochs + $0 * cycleEpochs(options) }
    }

    /// One line naming what was built: the rule with its settings, the groups' rates, the
    /// schedule, and the rest of the options that shape training.
    public static func describe(
        optimizer: any GradientOptimizer, scheduler: LearningRateScheduler, options: FineTuneOptions
    ) -> String {
        let rule: String
        if let described = optimizer as? CustomStringConvertible {
            rule = described.description
        } else {
            rule = "\(type(of: optimizer))"
        }
        let rates = optimizer.groups.map { String(format: "%.3g", Double($0.learningRate)) }.joined(separator: "/")
        var parts = [
            "\(rule) lr \(rates)", "weight decay \(options.weightDecay)", scheduler.description,
            "batch \(options.batchSize)", "\(options.epochs) epochs",
            options.snapshots
                ? "best epoch by \(options.monitor.rawValue), no early stop"
                : "patience \(options.patience) on \(options.monitor.rawValue)",
        ]
        if options.l1 > 0 { parts.append("L1 penalty \(options.l1)") }
        if options.minDelta > 0 { parts.append("min delta \(options.minDelta)") }
        if options.labelSmoothing > 0 { parts.append("label smoothing \(options.labelSmoothing)") }
        if let a = options.mixup { parts.append("mixup \(a)") }
        if let a = options.cutmix { parts.append("cutmix \(a)") }
        if let c = options.clipNorm { parts.append("clip norm \(c)") }
        if options.headEpochs > 0 { parts.append("\(options.headEpochs) head-only epochs first") }
        if options.probeHead { parts.append("head started as the linear probe") }
        if options.dropout > 0 { parts.append("dropout \(options.dropout) before the head") }
        if options.snapshots { parts.append("a snapshot at the end of each of the \(options.cycles) cycles") }
        if options.dropBlock > 0 { parts.append("DropBlock \(options.dropBlock) in the last two stages") }
        parts += ["bn \(options.batchNorm.rawValue)", "pipeline \(options.pipeline)", "seed \(options.seed)"]
        return parts.joined(separator: ", ")
    }
}

/// Optimisers describe themselves for the run summary.
extension Optimizer: CustomStringConvertible {
    /// The update rule with its settings, as the run summary's recipe line shows it.
    public var description: String { "\(rule)" }
}

extension LearningRateScheduler: CustomStringConvertible {
    /// The schedule, then its warm-up steps and plateau rule if any (`… after 40 warm-up steps,
    /// ×0.1 on a 2-epoch plateau`).
    public var description: String {
        var text = "\(schedule)"
        if warmupSteps > 0 { text += " after \(warmupSteps) warm-up steps" }
        if let plateau { text += ", ×\(plateau.factor) on a \(plateau.patience)-epoch plateau" }
        return text
    }
}
