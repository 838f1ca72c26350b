import CGraftKernels
import Engine
import Foundation
import Layers
import Logging
import Vision
import Zoo

/// Ctrl-C and SIGTERM keep the run: once `Interrupts.install()` has run, the first signal
/// makes training stop cleanly after the current batch (`StopReason.interrupted`); a second
/// one exits at once with status 130 (checkpoints are written atomically, so the last
/// complete one survives either way). A signal is kept until `reset()`: one that arrives
/// while the data loads or the feature cache fills stops the run after its first batch, and
/// one that stops a member of `finetune tune` or `finetune bag` stops the command.
public enum Interrupts {
    /// Installs the SIGINT and SIGTERM handlers (the command line does, once per process).
    public static func install() { graft_interrupts_install() }
    /// Whether a signal arrived since the last `reset()`.
    public static var requested: Bool { graft_interrupts_count() > 0 }
    /// Forgets the signals so far (a program that catches `FineTuneError.interrupted` and goes
    /// on to train again calls it first).
    public static func reset() { graft_interrupts_reset() }
}

/// Stops training after the current batch when an interrupt was requested.
public final class InterruptWatcher: TrainingCallback {
    /// A watcher of `Interrupts.requested`.
    public init() {}
    /// Requests a stop (`.interrupted`) once a signal has arrived.
    public func batchEnded(_ context: TrainingContext) throws {
        if Interrupts.requested { context.requestStop(.interrupted) }
    }
}

/// Two-phase fine-tuning: for the first `headEpochs` epochs only the new head trains (the
/// whole body frozen), then the model is unfrozen down to `freeze` stages and training goes
/// on with fresh early-stopping state. The optimiser holds every parameter that will ever
/// train (frozen ones are skipped at step time), so unfreezing needs no rebuild.
public final class TwoPhaseFineTuning: TrainingCallback {
    /// The epochs of phase 1, in which only the head trains.
    public let headEpochs: Int
    /// The stages kept frozen in phase 2 (the run's `--freeze N`).
    public let freeze: Int
    private let model: any ZooModel
    private let log: Logger

    /// Two phases on `model`: the head alone for `headEpochs` epochs, then everything after the first
    /// `freeze` stages; the switch is logged on `log`.
    public init(model: any ZooModel, headEpochs: Int, freeze: Int, log: Logger = .graft) {
        self.model = model
        self.headEpochs = headEpochs
        self.freeze = freeze
        self.log = log
    }

    /// `"head"` for epochs 1 through `headEpochs` (phase 1), `"body"` for the later ones.
    public func phase(of epoch: Int) -> String { epoch <= headEpochs ? "head" : "body" }

    /// Sets the freeze of the epoch's phase; at the first epoch of phase 2 it also resets early stopping
    /// and logs the switch.
    public func epochBegan(_ context: TrainingContext) throws {
        if context.epoch <= headEpochs {
            model.freezeAllButHead()
        } else {
            model.freezeStages(freeze)
        }
        if context.epoch == headEpochs + 1 {
            context.trainer.callback(EarlyStopping.self)?.reset()
            log.info(
                "phase 2 from epoch \(context.epoch): training the stages after \(freeze) and the head (\(model.trainableParameterCount.commaGrouped) parameters); early stopping starts afresh"
            )
        }
    }

    /// Writes the epoch's phase into its record.
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
    private let log: Logger

    /// `network`: the whole model (the trainer's may start after a cached prefix).
    public init(network: Module, loader: BatchLoader, log: Logger = .graft) {
        self.network = network
        self.loader = loader
        self.log = log
    }

    /// Runs the adaptation pass (not when resuming), then gives the layers back their momenta and
    /// their frozen inference behaviour.
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
        log.info(
            "re-estimated the statistics of \(layers.count) frozen BatchNorm layers on \(batches) training batches (--bn adapt)"
        )
    }
}

/// `--probe-head` (LP-FT, Kumar et al., 2022): when training starts (not when resuming: the
/// checkpoint holds the head), the new head becomes the linear probe of the last stage
/// (`StageProbe.initialiseHead`). It runs after `BatchNormAdaptation`, so the probe is fitted
/// on the features training will see.
public final class ProbeHeadStart: TrainingCallback {
    private let model: FineTune.Model
    private let loaders: FineTune.Loaders
    private let seed: UInt64
    private let log: Logger

    /// Fits `model`'s head on `loaders`' training split (the L2 chosen on its validation split).
    public init(model: FineTune.Model, loaders: FineTune.Loaders, seed: UInt64, log: Logger = .graft) {
        self.model = model
        self.loaders = loaders
        self.seed = seed
        self.log = log
    }

    /// Fits and installs the head (not when resuming).
    public func fitBegan(_ context: TrainingContext) throws {
        guard !context.isResuming else { return }
        try StageProbe.initialiseHead(model: model, loaders: loaders, seed: seed, log: log)
    }
}
