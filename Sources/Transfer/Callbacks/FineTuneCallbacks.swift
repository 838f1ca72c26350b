import CGraftKernels
import Engine
import Foundation
import Layers
import Vision
import Zoo

/// Ctrl-C and SIGTERM keep the run: once `Interrupts.install()` has run, the first signal
/// makes training stop cleanly after the current batch (`StopReason.interrupted`); a second
/// one exits at once with status 130 (checkpoints are written atomically, so the last
/// complete one survives either way).
public enum Interrupts {
    public static func install() { graft_interrupts_install() }
    public static var requested: Bool { graft_interrupts_count() > 0 }
    public static func reset() { graft_interrupts_reset() }
}

/// Stops training after the current batch when an interrupt was requested.
public final class InterruptWatcher: TrainingCallback {
    public init() {}
    public func batchEnded(_ context: TrainingContext) throws {
        if Interrupts.requested { context.requestStop(.interrupted) }
    }
}

/// Two-phase fine-tuning: for the first `headEpochs` epochs only the new head trains (the
/// whole body frozen), then the model is unfrozen down to `freeze` stages and training goes
/// on with fresh early-stopping state. The optimiser holds every parameter that will ever
/// train (frozen ones are skipped at step time), so unfreezing needs no rebuild.
public final class TwoPhaseFineTuning: TrainingCallback {
    public let headEpochs: Int
    public let freeze: Int
    private let model: any ZooModel
    private let say: (String) -> Void

    public init(model: any ZooModel, headEpochs: Int, freeze: Int, say: @escaping (String) -> Void) {
        self.model = model
        self.headEpochs = headEpochs
        self.freeze = freeze
        self.say = say
    }

    public func phase(of epoch: Int) -> String { epoch <= headEpochs ? "head" : "body" }

    public func epochBegan(_ context: TrainingContext) throws {
        if context.epoch <= headEpochs {
            model.freezeAllButHead()
        } else {
            model.freezeStages(freeze)
        }
        if context.epoch == headEpochs + 1 {
            context.trainer.callback(EarlyStopping.self)?.reset()
            say(
                "phase 2 from epoch \(context.epoch): training the stages after \(freeze) and the head (\(model.trainableParameterCount.commaGrouped) parameters); early stopping starts afresh"
            )
        }
    }

    public func epochEnded(_ context: TrainingContext) throws {
        context.record?.phase = phase(of: context.epoch)
    }
}

/// How BatchNorm layers of frozen stages behave while the rest trains.
public enum FrozenBatchNorm: String, Codable, Sendable, CaseIterable {
    /// Inference mode, statistics fixed (Keras's choice; the default): a frozen stage computes
    /// exactly what it computed when it was trained.
    case frozen
    /// Batch statistics, running averages updated, affine parameters fixed (PyTorch's
    /// default `model.train()`): adapts to the new data, but small batches give noisy
    /// statistics and the frozen stages' outputs drift.
    case train
    /// Re-estimate the running statistics once on the target training data before training
    /// (a cumulative average over one pass), then freeze them: adapts to the new data's
    /// statistics without noise during training.
    case adapt
}

/// `--bn adapt`: one pass over the training images in batch-statistics mode with a
/// cumulative average (momentum 1/(b+1) at batch b), for the BatchNorm layers of frozen
/// stages only, before the first epoch. Skipped when resuming (the buffers are restored).
public final class BatchNormAdaptation: TrainingCallback {
    private let loader: BatchLoader
    private let network: Module
    private let say: (String) -> Void

    /// `network`: the whole model (the trainer's may start after a cached prefix).
    public init(network: Module, loader: BatchLoader, say: @escaping (String) -> Void) {
        self.network = network
        self.loader = loader
        self.say = say
    }

    public func fitBegan(_ context: TrainingContext) throws {
        guard !context.isResuming else { return }
        let layers = network.namedModules.compactMap { $0.module as? BatchNorm }.filter(\.isFrozen)
        guard !layers.isEmpty else { return }
        let momenta = layers.map(\.momentum)
        defer {
            for (layer, momentum) in zip(layers, momenta) {
                layer.momentum = momentum
                layer.frozenBehaviour = .inference
            }
            network.eval()
        }
        for layer in layers { layer.frozenBehaviour = .batchStatistics }
        network.train()
        var batches = 0
        Autodiff.withoutGradients {
            for batch in loader.batches(epoch: 0) {
                for layer in layers { layer.momentum = 1 / Float(batches + 1) }
                _ = network(Variable(batch.images))
                batches += 1
            }
        }
        say(
            "re-estimated the statistics of \(layers.count) frozen BatchNorm layers on \(batches) training batches (--bn adapt)"
        )
    }
}
