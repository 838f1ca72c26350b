import Engine
import Foundation
import Layers
import Logging
import Optimizers
import Report
import Vision
import Zoo

extension FineTune {
    /// The trainer with the options' recipe and callbacks, in the order they must run:
    /// interrupts, the schedule, mixing, clipping and the divergence guard around the step;
    /// two-phase freezing; the update ratios; early stopping (the best epoch); the log, the
    /// progress display; the checkpoint last.
    /// `extra` callbacks (a library user's own) run just before the checkpoint.
    public static func makeTrainer(
        _ plan: Plan, data: Data, model: Model, loaders: Loaders, runFolder: String, cache: Cache? = nil,
        extra: [TrainingCallback] = [], log: Logger = .graft
    ) -> Trainer {
        let options = plan.options
        let network = model.network
        let frozen = stagesFrozen(options.freeze, of: plan.stageCount)
        let optimizer = Recipe.optimizer(options, model: network)
        let scheduler = Recipe.scheduler(options, stepsPerEpoch: loaders.train.batchesPerEpoch)
        var callbacks: [TrainingCallback] = [InterruptWatcher(), scheduler]
        if let alpha = options.mixup {
            callbacks.append(
                BatchMixing(.mixup(alpha: alpha), classes: data.images.classNames.count, seed: options.seed))
        }
        if let alpha = options.cutmix {
            callbacks.append(
                BatchMixing(.cutmix(alpha: alpha), classes: data.images.classNames.count, seed: options.seed))
        }
        if let norm = options.clipNorm { callbacks.append(ClipGradients(.globalNorm(norm))) }
        callbacks.append(DivergenceGuard())
        if options.batchNorm == .adapt && frozen > 0 {
            callbacks.append(BatchNormAdaptation(network: network, loader: loaders.train, log: log))
        }
        if options.probeHead {  // after the adaptation: the probe sees the statistics training uses
            callbacks.append(ProbeHeadStart(model: model, loaders: loaders, seed: options.seed, log: log))
        }
        if options.headEpochs > 0 {
            callbacks.append(
                TwoPhaseFineTuning(model: network, headEpochs: options.headEpochs, freeze: frozen, log: log))
        }
        if !options.probeHead {  // a fitted head's loss is meant to be below ln(C)
            let first: BatchSource = cache?.train ?? loaders.train
            let firstIndices = Array(loaders.train.indices.prefix(options.batchSize))
            callbacks.append(
                InitialLossCheck(
                    batch: { first.makeBatch(firstIndices, epoch: 1).map { ($0.images, $0.labels) } }, log: log))
        }
        let stages =
            network.stages.map { stage in
                (stage.name, network.namedModules.first { $0.module === stage.module }?.key ?? stage.name)
            } + (network.headKey.map { [("head", $0)] } ?? [])
        callbacks.append(UpdateRatioMonitor(stages: stages, log: log))
        callbacks.append(
            EarlyStopping(
                monitor: options.monitor, patience: options.snapshots ? nil : options.patience,
                minDelta: options.minDelta))
        callbacks.append(JSONLog(path: runFolder + "/log.jsonl"))
        callbacks.append(ProgressDisplay(terminal: isatty(STDERR_FILENO) != 0 && options.progressBar, log: log))
        if options.snapshots {
            callbacks.append(
                SnapshotSaver(epochs: Recipe.cycleEnds(options), folder: runFolder + "/snapshots", log: log) { path in
                    let cycle = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
                    try WeightFile.save(
                        network, to: path,
                        metadata: try metadata(plan, data: data, model: model, provenance: ["snapshot": cycle]))
                })
        }
        callbacks += extra
        callbacks.append(Checkpointing(path: runFolder + "/checkpoint.h5"))
        let loss = ClassificationLoss(
            classWeights: data.classWeights.map { Tensor($0) }, labelSmoothing: options.labelSmoothing)
        return Trainer(
            model: cache?.model ?? network, optimizer: optimizer, loss: loss, callbacks: callbacks, seed: options.seed)
    }

    /// Trains, and says how it ended; the trainer has restored the best weights whatever
    /// happened. Returns the training error (divergence) or nil.
    static func train(_ trainer: Trainer, loaders: Loaders, cache: Cache?, epochs: Int, checkpoint: TrainingCheckpoint?)
        -> Error?
    {
        do {
            try trainer.fit(
                train: cache?.train ?? loaders.train, validation: cache?.validation ?? loaders.validation,
                epochs: epochs,
                resumingFrom: checkpoint)
            return nil
        } catch {
            return error
        }
    }

    /// The whole job: a new run folder under `options.runsDirectory`.
    public static func run(
        _ options: FineTuneOptions, callbacks extra: [TrainingCallback] = [],
        log: Logger = .graft
    ) throws -> FineTuneResult {
        var plan = try resolve(options)
        let data = try loadData(plan, log: log)
        (plan, _) = try resolvingAutoFreeze(plan, data: data, log: log)
        let model = try buildModel(plan, data: data, log: log)
        let loaders = loaders(plan, data: data, model: model)
        if options.autoLearningRate {
            if options.probeHead {  // the finder tries rates for the head training starts from
                try StageProbe.initialiseHead(model: model, loaders: loaders, seed: options.seed, log: .silent)
            }
            let found = try findLearningRate(plan, data: data, model: model, loaders: loaders)
            guard let rate = found.suggestion else { throw FineTuneError.noLearningRate(steps: found.rates.count) }
            plan.options.learningRate = rate
            plan.options.autoLearningRate = false
            log.info(
                "\(String(format: "--lr auto: the learning-rate finder suggests %.2g (steepest descent over %d steps)", Double(rate), found.rates.count))"
            )
        }
        let run = try makeRunFolder(options.runsDirectory, name: plan.runName)
        try RunFolder.writeStart(run, options: plan.options, split: data.split)
        let preview = AugmentationPreview(
            images: data.split.train.prefix(4).map { (data.images.name(at: $0), data.images.images[$0]) },
            augmentation: plan.augmentation, versions: 6, seed: options.seed, cellSize: max(plan.size, 48))
        try Charts.writeAugmentation(
            preview, pipeline: options.pipeline, to: run + "/augmentation.png", cell: max(plan.size, 80))
        return try execute(
            plan, data: data, model: model, loaders: loaders, run: run, checkpoint: nil, extra: extra, log: log)
    }

    /// The learning-rate range test on the training data, with the options' optimiser (the
    /// model is left as it was).
    public static func findLearningRate(
        _ plan: Plan, data: Data, model: Model, loaders: Loaders,
        finder: LearningRateFinder = LearningRateFinder()
    ) throws -> LearningRateFinder.Result {
        let optimizer = Recipe.optimizer(plan.options, model: model.network)
        let loss = ClassificationLoss(
            classWeights: data.classWeights.map { Tensor($0) }, labelSmoothing: plan.options.labelSmoothing)
        return try finder.run(model: model.network, optimizer: optimizer, loader: loaders.train, loss: loss)
    }

    /// Continues an interrupted (or killed) run from its last checkpoint, with the options it
    /// started with; it ends exactly as the uninterrupted run would have.
    public static func resume(
        _ run: String, callbacks extra: [TrainingCallback] = [],
        log: Logger = .graft
    ) throws -> FineTuneResult {
        let (options, status) = try RunFolder.readStart(run)
        guard status.state != .finished else {
            throw FineTuneError.notResumable(runFolder: run, reason: "it already finished (\(status.epochs) epochs)")
        }
        guard FileManager.default.fileExists(atPath: run + "/checkpoint.h5") else {
            throw FineTuneError.notResumable(runFolder: run, reason: "it has no checkpoint.h5")
        }
        let checkpoint = try TrainingCheckpoint.read(run + "/checkpoint.h5")
        let plan = try resolve(options)
        let data = try loadData(plan, log: log)
        guard data.split == (try DatasetSplit.load(run + "/split.json")) else {
            throw FineTuneError.notResumable(
                runFolder: run, reason: "the data changed since the run began (its split differs); start a new run")
        }
        let model = try buildModel(plan, data: data, log: .silent)
        let loaders = loaders(plan, data: data, model: model)
        log.info("resuming \(run) after epoch \(checkpoint.epoch) of \(options.epochs)")
        return try execute(
            plan, data: data, model: model, loaders: loaders, run: run, checkpoint: checkpoint, extra: extra, log: log)
    }

    private static func execute(
        _ plan: Plan, data: Data, model: Model, loaders: Loaders, run: String, checkpoint: TrainingCheckpoint?,
        extra: [TrainingCallback], log: Logger
    ) throws -> FineTuneResult {
        let started = Date()
        let cache = try featureCache(plan, model: model, loaders: loaders, runFolder: run, log: log)
        let trainer = makeTrainer(
            plan, data: data, model: model, loaders: loaders, runFolder: run, cache: cache, extra: extra, log: log)
        try RunFolder.writeStatus(run, .running, epochs: checkpoint?.epoch ?? 0)
        let failure = train(
            trainer, loaders: loaders, cache: cache, epochs: plan.options.epochs, checkpoint: checkpoint)
        let history = trainer.context?.history ?? []
        let stopped = trainer.context?.stopReason
        let saved = cache?.savedSeconds(epochs: history.count)
        let result = try writeRunFolder(
            run, plan: plan, data: data, model: model, loaders: loaders, trainer: trainer,
            failure: failure, seconds: Date().timeIntervalSince(started), cacheSaved: saved)
        if let advice = FitDiagnosis.advice(history, bestEpoch: result.bestEpoch, options: plan.options) {
            log.info("\(advice)")
        }
        if let saved, saved >= 0.5 {
            log.info("\(String(format: "the feature cache saved about %.0f s of frozen-stage computation", saved))")
        }
        if let failure {
            try RunFolder.writeStatus(run, .diverged, epochs: history.count)
            if let training = failure as? TrainingError {
                throw FineTuneError.diverged(training, savedTo: run + "/model.h5", epochs: history.count)
            }
            throw failure
        }
        if stopped == .interrupted {
            try RunFolder.writeStatus(run, .interrupted, epochs: history.count)
            throw FineTuneError.interrupted(runFolder: run, epochs: history.count)
        }
        try RunFolder.writeStatus(run, .finished, epochs: history.count)
        try? FileManager.default.removeItem(atPath: run + "/checkpoint.h5")
        if case .noImprovement(let patience)? = stopped {
            log.info("stopped early: no better \(plan.options.monitor.rawValue) for \(patience) epochs")
        }
        log.debug("\(result.summaryLine)")
        return result
    }

    /// The run folder's results: the best model (class names, preprocessing and provenance
    /// inside), curves, confusion matrix and summary.
    static func writeRunFolder(
        _ run: String, plan: Plan, data: Data, model: Model, loaders: Loaders, trainer: Trainer,
        failure: Error?, seconds: Double, cacheSaved: Double? = nil
    ) throws -> FineTuneResult {
        let options = plan.options
        let history = trainer.context?.history ?? []
        let validation = evaluate(model.network, on: loaders.validation, loss: trainer.loss)
        let test = loaders.test.map { evaluate(model.network, on: $0, loss: trainer.loss) }
        let best = trainer.callback(EarlyStopping.self)?.bestEpoch
        let scheduler = trainer.callback(LearningRateScheduler.self)!
        let recipe = Recipe.describe(optimizer: trainer.optimizer, scheduler: scheduler, options: options)
        var provenance: [String: Any] = [
            "recipe": recipe,
            "validation_accuracy": validation.accuracy, "best_epoch": best ?? 0, "diverged": failure != nil,
        ]
        if let test { provenance["test_accuracy"] = test.accuracy }
        try WeightFile.save(
            model.network, to: run + "/model.h5",
            metadata: try metadata(plan, data: data, model: model, provenance: provenance))
        let snapshots = try snapshotEnsemble(trainer, data: data)
        try RunFolder.writeCharts(
            run, history: history, confusion: validation.confusion, classNames: data.images.classNames,
            best: best, monitor: options.monitor)
        var summary = RunFolder.summary(
            run: run, plan: plan, recipe: recipe, history: history, best: best, validation: validation,
            test: test, classNames: data.images.classNames, failure: failure)
        if let snapshots { summary += "\n" + snapshots.summaryLine + "\n" }
        if let cacheSaved {
            summary += String(
                format: "\nfeature cache: saved about %.0f s of frozen-stage computation (run took %.0f s)\n",
                cacheSaved, seconds)
        }
        try AtomicFile.write(summary, to: run + "/summary.txt")
        try writeReport(
            run, plan: plan, data: data, model: model, loaders: loaders, history: history, best: best, recipe: recipe,
            validation: validation, test: test, failure: failure)
        return FineTuneResult(
            runFolder: run, history: history, validation: validation, test: test,
            classNames: data.images.classNames, bestEpoch: best, seconds: seconds, snapshotEnsemble: snapshots)
    }

    /// A run's weight-file metadata: the architecture, preprocessing and class names, and a
    /// provenance of where training started, on what data, plus `provenance`'s own entries.
    static func metadata(_ plan: Plan, data: Data, model: Model, provenance: [String: Any]) throws -> WeightMetadata {
        let options = plan.options
        let origin: [String: Any] = [
            "source": plan.zooEntry.map { "zoo entry \($0.name)" } ?? plan.weights ?? "random initialisation",
            "dataset": options.data ?? options.dataset?.rawValue ?? "demo dataset (\(options.demo.rawValue))",
        ]
        let json = try JSONSerialization.data(
            withJSONObject: origin.merging(provenance) { _, own in own }, options: [.sortedKeys])
        return WeightMetadata(
            architecture: plan.entry.name, configuration: model.network.configuration,
            preprocessing: model.preprocessing,
            classNames: data.images.classNames, provenance: String(decoding: json, as: UTF8.self))
    }

    /// The ensemble of the run's snapshots (`--snapshots`) on the validation and test splits;
    /// nil without snapshots.
    static func snapshotEnsemble(_ trainer: Trainer, data: Data) throws -> SnapshotEnsembleResult? {
        guard let files = trainer.callback(SnapshotSaver.self)?.savedFiles, !files.isEmpty else { return nil }
        let ensemble = try Ensemble(files: files)
        return SnapshotEnsembleResult(
            files: files, validation: ensemble.evaluate(data.images, indices: data.split.validation),
            test: data.split.test.isEmpty ? nil : ensemble.evaluate(data.images, indices: data.split.test))
    }

    /// report.html beside the charts.
    static func writeReport(
        _ run: String, plan: Plan, data: Data, model: Model, loaders: Loaders, history: [EpochRecord], best: Int?,
        recipe: String, validation: Evaluation, test: Evaluation?, failure: Error?
    ) throws {
        let options = plan.options
        var facts: [(String, String)] = [
            ("base", plan.zooEntry.map { "\($0.name) (\($0.summary))" } ?? "\(plan.entry.name), random initialisation"),
            ("data", options.data ?? options.dataset?.rawValue ?? "embedded demo (\(options.demo.rawValue))"),
            ("classes", data.images.classSummary),
            (
                "split",
                "\(data.split.train.count) training, \(data.split.validation.count) validation, \(data.split.test.count) test images"
            ),
            ("freeze", "--freeze \(options.freeze.text) of \(plan.stageCount) stages, input \(plan.size)x\(plan.size)"),
            ("recipe", recipe),
            (
                "validation accuracy",
                String(
                    format: "%.2f%% (best epoch %d; the split also chose the epoch)", validation.accuracy * 100,
                    best ?? 0)
            ),
        ]
        if let test { facts.append(("held-out test accuracy", String(format: "%.2f%%", test.accuracy * 100))) }
        if let failure { facts.append(("stopped", "\(failure)")) }
        let rows = history.map { r in
            [
                String(r.epoch), String(format: "%.4f", r.trainLoss), String(format: "%.1f%%", r.trainAccuracy * 100),
                r.validationLoss.map { String(format: "%.4f", $0) } ?? "–",
                r.validationAccuracy.map { String(format: "%.1f%%", $0 * 100) } ?? "–",
                String(format: "%.3g", r.learningRate), String(format: "%.1f", r.seconds), r.phase ?? "",
            ]
        }
        let report = RunReport(
            title: "Graft run \((run as NSString).lastPathComponent)", facts: facts,
            epochHeader: [
                "epoch", "loss", "accuracy", "val loss", "val accuracy", "learning rate", "seconds", "phase",
            ], epochRows: rows,
            bestEpoch: best, classNames: data.images.classNames, confusion: validation.confusion,
            mistakes: mistakes(model, loaders.validation, data: data),
            charts: [
                ("loss.png", "loss per epoch"), ("accuracy.png", "accuracy per epoch"),
                ("confusion.png", "confusion matrix, validation split"), ("augmentation.png", "augmentation preview"),
            ])
        try AtomicFile.write(report.html, to: run + "/report.html")
    }

    /// Up to `limit` misclassified validation images, most confident mistakes first.
    static func mistakes(_ model: Model, _ loader: BatchLoader, data: Data, limit: Int = 24) -> [RunReport.Mistake] {
        var found: [RunReport.Mistake] = []
        model.network.eval()
        for batch in loader.batches(epoch: 0) {
            let p = Kernels.softmax(model.network.predict(batch.images), axis: 1)
            let k = p.shape[1]
            for (row, index) in batch.indices.enumerated() {
                let probabilities = Array(p.scalars[(row * k)..<((row + 1) * k)])
                let predicted = probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
                let truth = batch.labels[row]
                guard predicted != truth else { continue }
                found.append(
                    RunReport.Mistake(
                        image: data.images.images[index], name: data.images.name(at: index),
                        truth: data.images.classNames[truth], predicted: data.images.classNames[predicted],
                        confidence: Double(probabilities[predicted])))
            }
        }
        return Array(found.sorted { $0.confidence > $1.confidence }.prefix(limit))
    }

    static func makeRunFolder(_ root: String, name: String) throws -> String {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), !isFolder.boolValue {
            throw FileWriteError.failed(
                path: root, reason: "it is a file, and run folders go inside a folder; pass another --runs")
        }
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw FileWriteError.failed(
                path: root, reason: "the runs folder cannot be created (\(error.localizedDescription))")
        }
        var candidate = root + "/" + name
        var n = 2
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = root + "/" + name + "-\(n)"
            n += 1
        }
        try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: false)
        return candidate
    }
}
