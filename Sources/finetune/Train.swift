import ArgumentParser
import Foundation
import Graft

extension FineTuneOptions.OptimizerKind: ExpressibleByArgument {}
extension FineTuneOptions.ScheduleKind: ExpressibleByArgument {}
extension FineTuneOptions.Normalization: ExpressibleByArgument {}
extension FrozenBatchNorm: ExpressibleByArgument {}
extension Monitor: ExpressibleByArgument {}

/// `--lr 0.001` or `--lr auto`.
enum LearningRateArgument: ExpressibleByArgument {
    case value(Float)
    case auto

    init?(argument: String) {
        if argument.lowercased() == "auto" {
            self = .auto
        } else if let rate = Float(argument) {
            self = .value(rate)
        } else {
            return nil
        }
    }
}

/// Every option of a run; unset ones keep the library's defaults (`FineTuneOptions`), which
/// the help texts quote.
struct TrainingOptions: ParsableArguments {
    static let d = FineTuneOptions.defaults

    @Option(help: "The zoo architecture to fine-tune (see `finetune zoo list`).") var base: String = d.base
    @Option(
        help:
            "Freeze the first N stages (0: train everything; 'all': only the new head; 'auto': choose by probing every stage)."
    ) var freeze: String = "0"
    @Option(help: "An image folder, one sub-folder per class (default: the demo dataset).") var data: String?
    @Option(help: "Weights to start from (the head is replaced).") var weights: String?
    @Option(help: "Epochs at most (default \(d.epochs)).") var epochs: Int?
    @Option(help: "Early stopping: epochs without a better --monitor before stopping (default \(d.patience)).")
    var patience: Int?
    @Option(help: "What early stopping watches: val_loss or val_accuracy (default \(d.monitor.rawValue)).") var monitor:
        Monitor?
    @Option(
        name: .customLong("min-delta"),
        help: "The smallest change of --monitor that counts as better (default \(d.minDelta)).")
    var minDelta: Double?
    @Option(name: .customLong("batch-size"), help: "Images per batch (default \(d.batchSize)).") var batchSize: Int?
    @Option(help: "The learning rate, or 'auto' to run the learning-rate finder first (default \(d.learningRate)).")
    var lr: LearningRateArgument?
    @Option(
        help:
            "sgd, momentum, nesterov, adam, adamw, nadam, rmsprop, adagrad or adadelta (default \(d.optimizer.rawValue))."
    )
    var optimizer: FineTuneOptions.OptimizerKind?
    @Option(help: "Momentum of the momentum and nesterov optimisers (default \(d.momentum)).")
    var momentum: Float?
    @Option(name: .customLong("weight-decay"), help: "L2 weight decay, decoupled for adamw (default \(d.weightDecay)).")
    var weightDecay: Float?
    @Option(help: "L1 penalty on the trainable weights, added to the loss (default \(d.l1)).") var l1: Float?
    @Option(
        help:
            "constant, step, exponential, inverse-time, cosine, onecycle, plateau or restarts (SGDR) (default \(d.schedule.rawValue))."
    )
    var schedule: FineTuneOptions.ScheduleKind?
    @Option(help: "Epochs of linear learning-rate warm-up (default \(d.warmupEpochs)).") var warmup: Int?
    @Option(help: "Warm-restart cycles of --schedule restarts, equal and in whole epochs (default \(d.cycles)).")
    var cycles: Int?
    @Flag(
        help:
            "Snapshot ensemble: save the model at the end of every --schedule restarts cycle (snapshots/) and report their ensemble; no early stop."
    )
    var snapshots = false
    @Option(name: .customLong("label-smoothing"), help: "Label smoothing ε (default \(d.labelSmoothing)).")
    var labelSmoothing: Float?
    @Option(help: "Mixup with Beta(A, A), e.g. 0.2 (default off).") var mixup: Double?
    @Option(help: "CutMix with Beta(A, A), e.g. 1 (default off).") var cutmix: Double?
    @Option(name: .customLong("clip-norm"), help: "Clip gradients to this global norm (default off).") var clipNorm:
        Float?
    @Option(
        help:
            "Frozen stages' BatchNorm: frozen (inference mode), train (batch statistics) or adapt (re-estimate once) (default \(d.batchNorm.rawValue))."
    )
    var bn: FrozenBatchNorm?
    @Option(
        name: .customLong("head-epochs"),
        help: "Train only the new head for K epochs first, then down to --freeze (default \(d.headEpochs)).")
    var headEpochs: Int?
    @Option(
        name: .customLong("body-lr-factor"),
        help:
            "Each stage below the head trains at F times the rate of the one above (default \(d.bodyLearningRateFactor))."
    )
    var bodyLRFactor: Float?
    @Flag(
        name: .customLong("probe-head"),
        help: "LP-FT: start the new head as the linear probe fitted on the last stage's features, not at random.")
    var probeHead = false
    @Option(help: "Dropout before the new head, e.g. 0.5 (ResNets; default \(d.dropout)).") var dropout: Float?
    @Option(
        name: .customLong("drop-block"),
        help: "DropBlock rate in a ResNet's last two stages, e.g. 0.1 (default \(d.dropBlock)).")
    var dropBlock: Float?
    @Option(
        help:
            "Input normalisation: weights (the starting weights' own mean/std) or data (measured on the training split) (default \(d.normalization.rawValue))."
    )
    var normalize: FineTuneOptions.Normalization?
    @Option(help: "The seed behind every random choice (default \(d.seed)).") var seed: UInt64?
    @Option(help: "Augmentation pipeline (default \"\(d.pipeline)\"; see README).") var pipeline: String?
    @Option(
        help: "Input size in pixels (default: the zoo entry's, 64 for the food demo; the architecture's otherwise).")
    var size: Int?
    @Option(
        name: .customLong("test-fraction"),
        help: "Hold out this fraction as a test split, reported at the end (default \(d.testFraction)).")
    var testFraction: Double?
    @Option(help: "Where run folders go (default \(d.runsDirectory)).") var runs: String?
    @Option(
        name: .customLong("cache-views"),
        help:
            "Frozen-prefix feature cache: augmented views per image (0: off; default 4 when the cache applies, 1 without augmentation)."
    )
    var cacheViews: Int?
    @Option(
        name: .customLong("cache-memory"),
        help:
            "The cache's memory budget in MB; beyond it the cache spills to a file in the run folder (default: a quarter of the machine's memory)."
    )
    var cacheMemory: Int?
    @Flag(name: .customLong("cache-float16"), help: "Store cached features as float16 (half the memory).")
    var cacheFloat16 = false
    @Flag(name: .customLong("strict-images"), help: "Fail on an unreadable image instead of skipping it.")
    var strictImages = false
    @Flag(
        name: .customLong("balance-classes"), help: "Weigh the loss by class weights computed from the folder counts.")
    var balanceClasses = false
    @OptionGroup var decoding: DecodingOptions
    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard FineTuneOptions.parseFreeze(freeze) != nil else {
            throw ValidationError("--freeze takes a number of stages, 'all' or 'auto', not '\(freeze)'")
        }
        try within("--epochs", epochs, Limits.epochs)
        try within("--patience", patience, Limits.patience)
        try within("--batch-size", batchSize, Limits.batchSize)
        try within("--size", size, Limits.imageSide)
        try within("--warmup", warmup, 0...Limits.epochs.upperBound)
        try within("--head-epochs", headEpochs, 0...Limits.epochs.upperBound)
        try within("--cache-views", cacheViews, 0...64)
        try within("--cache-memory", cacheMemory, 1...(1 << 30))
        if cycles != nil && schedule != .restarts {
            throw ValidationError(
                "--cycles sets the cycles of --schedule restarts; add --schedule restarts or drop --cycles")
        }
        if case .value(let rate)? = lr {
            guard rate > 0, rate.isFinite else {
                throw ValidationError("--lr must be a positive number or 'auto', not \(rate)")
            }
        }
        do { try options.validate() } catch { throw ValidationError("\(error)") }
    }

    var options: FineTuneOptions {
        var o = FineTuneOptions(base: base, freeze: FineTuneOptions.parseFreeze(freeze) ?? .stages(0))
        o.data = data
        o.weights = weights
        o.epochs = epochs ?? o.epochs
        o.patience = patience ?? o.patience
        o.monitor = monitor ?? o.monitor
        o.minDelta = minDelta ?? o.minDelta
        o.batchSize = batchSize ?? o.batchSize
        switch lr {
        case .value(let rate)?: o.learningRate = rate
        case .auto?: o.autoLearningRate = true
        case nil: break
        }
        o.optimizer = optimizer ?? o.optimizer
        o.momentum = momentum ?? o.momentum
        o.weightDecay = weightDecay ?? o.weightDecay
        o.l1 = l1 ?? o.l1
        o.schedule = schedule ?? o.schedule
        o.warmupEpochs = warmup ?? o.warmupEpochs
        o.cycles = cycles ?? o.cycles
        o.snapshots = snapshots || o.snapshots
        o.labelSmoothing = labelSmoothing ?? o.labelSmoothing
        o.mixup = mixup
        o.cutmix = cutmix
        o.clipNorm = clipNorm
        o.batchNorm = bn ?? o.batchNorm
        o.headEpochs = headEpochs ?? o.headEpochs
        o.bodyLearningRateFactor = bodyLRFactor ?? o.bodyLearningRateFactor
        o.probeHead = probeHead || o.probeHead
        o.dropout = dropout ?? o.dropout
        o.dropBlock = dropBlock ?? o.dropBlock
        o.normalization = normalize ?? o.normalization
        o.seed = seed ?? o.seed
        o.pipeline = pipeline ?? o.pipeline
        o.imageSize = size
        o.testFraction = testFraction ?? o.testFraction
        o.runsDirectory = runs ?? o.runsDirectory
        o.cacheViews = cacheViews
        o.cacheMemoryMB = cacheMemory
        o.cacheFloat16 = cacheFloat16
        o.strictImages = strictImages
        o.balanceClasses = balanceClasses
        o.maxPixels = decoding.maxPixels ?? o.maxPixels
        return o
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune a zoo model (the default command).",
        discussion: """
            Without --data it trains on the embedded demo dataset. The run folder gets model.h5, log.jsonl, \
            checkpoint.h5 (while running), options.json, status.json, split.json, augmentation.png/json, loss.png, \
            accuracy.png, confusion.png and summary.txt. Ctrl-C stops after the current batch, keeps the best model \
            and the checkpoint, and exits with 130; `finetune resume RUN` continues exactly.
            """)

    @OptionGroup var training: TrainingOptions

    func run() throws {
        try interruptible { print(try FineTune.run(training.options).summaryLine) }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Continue an interrupted run from its checkpoint, exactly as if it had not stopped.")

    @Argument(help: "The run folder (e.g. runs/resnet18-freeze3-seed0).") var folder: String

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        try interruptible { print(try FineTune.resume(folder).summaryLine) }
    }
}

struct Sanity: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "The lecture notes' sanity checks: gradients against central differences, the first loss at chance and rising "
            + "with regularisation, a few training images overfitted to 100% with regularisation off."
    )

    @Option(help: "How many training images (spread over the classes).") var images = 20
    @Option(name: .customLong("max-steps"), help: "Steps at most (one batch of all the images per step).")
    var maxSteps = 200
    @Flag(
        name: .customLong("no-gradient-check"),
        help:
            "Skip the gradient check that runs first (autodiff against central differences on 8 random normal images with the subset's labels)."
    )
    var noGradientCheck = false
    @OptionGroup var training: TrainingOptions

    func validate() throws {
        try within("--images", images, 2...1000)
        try within("--max-steps", maxSteps, 1...100_000)
    }

    func run() throws {
        let result = try SanityCheck.run(
            training.options, images: images, maxSteps: maxSteps, gradientCheck: !noGradientCheck)
        print(result.description)
        if !result.passed { throw ExitCode(1) }
    }
}

struct LRFind: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract:
            "Sweep the learning rate exponentially over a few hundred steps, plot loss against rate, suggest one.",
        discussion: "Use the suggestion with --lr, or let `finetune --lr auto` run this first.")

    @Option(help: "Where to write the loss-against-rate chart (PNG).") var out = "lr-find.png"
    @Option(help: "Steps of the sweep.") var steps = 200
    @OptionGroup var training: TrainingOptions

    func validate() throws { try within("--steps", steps, 10...10_000) }

    func run() throws {
        let plan = try FineTune.resolve(training.options)
        let data = try FineTune.loadData(plan, )
        let model = try FineTune.buildModel(plan, data: data, )
        let loaders = FineTune.loaders(plan, data: data, model: model)
        let found = try FineTune.findLearningRate(
            plan, data: data, model: model, loaders: loaders,
            finder: LearningRateFinder(steps: steps))
        try Charts.learningRate(
            rates: found.rates.map(Double.init), losses: found.losses.map(Double.init),
            suggestion: found.suggestion.map(Double.init)
        ).writePNG(to: out)
        for i in stride(from: 0, to: found.rates.count, by: max(1, found.rates.count / 12)) {
            print(String(format: "lr %9.2e  loss %.4f", Double(found.rates[i]), Double(found.losses[i])))
        }
        guard let rate = found.suggestion else {
            print(
                "no suggestion: the loss diverged after \(found.rates.count) steps; lower the start of the sweep or check the data"
            )
            throw ExitCode(1)
        }
        print(
            String(
                format: "suggested learning rate: %.2g (steepest descent of the smoothed loss); chart: %@",
                Double(rate), out))
    }
}

struct Pretrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Run one of the zoo's own recipes: a run folder, then zoo/NAME.h5, its test slice, model card and zoo.json entry.",
        discussion: "Recipes: " + PretrainRecipe.all.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ") + ".")

    @Argument(help: "The recipe, e.g. resnet18-clipart.") var name: String
    @Option(help: "The zoo folder.") var zoo = "zoo"
    @Option(help: "Where the run folder goes (default runs/pretrain).") var runs: String?
    @Option(
        name: .customLong("from-run"), help: "Only make the zoo files, from this finished run folder of the recipe.")
    var fromRun: String?

    @OptionGroup var logging: LoggingOptions

    func run() throws {
        let recipe = try PretrainRecipe.named(name)
        if let fromRun {
            // Its wall time: from options.json (written at the start) to status.json (at the end).
            func modified(_ file: String) -> Date? {
                (try? FileManager.default.attributesOfItem(atPath: fromRun + "/" + file))?[.modificationDate] as? Date
            }
            let seconds =
                modified("status.json").flatMap { end in modified("options.json").map { end.timeIntervalSince($0) } }
                ?? 0
            _ = try Pretraining.finish(recipe, runFolder: fromRun, seconds: seconds, zoo: zoo)
            return
        }
        try interruptible { _ = try Pretraining.run(recipe, zoo: zoo, runs: runs) }
    }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Fit a linear classifier on every stage's pooled features and report validation accuracy per stage (what --freeze auto uses)."
    )

    @Option(help: "Where to write the bar chart of accuracy per stage (PNG).") var out = "probe.png"
    @OptionGroup var training: TrainingOptions

    func run() throws {
        var options = training.options
        options.freeze = .stages(0)
        let plan = try FineTune.resolve(options)
        let data = try FineTune.loadData(plan, )
        let model = try FineTune.buildModel(plan, data: data, )
        let results = try StageProbe.run(
            model: model, loaders: FineTune.loaders(plan, data: data, model: model),
            seed: options.seed, log: .silent)
        print("stage  name          features  validation accuracy  L2")
        for r in results {
            print(
                String(
                    format: "%5d  %@ %8d  %18.1f%%  %g", r.stage,
                    r.name.padding(toLength: 12, withPad: " ", startingAt: 0),
                    r.features, r.validationAccuracy * 100, Double(r.l2)))
        }
        let choice = StageProbe.chooseFreeze(results)
        try Charts.bars(
            title: "Linear probe per stage", labels: results.map { "\($0.stage). \($0.name)" },
            values: results.map(\.validationAccuracy), yTitle: "validation accuracy",
            highlight: choice.stages - 1
        ).writePNG(to: out)
        print(StageProbe.chooseFreeze(results).reason + "; chart: \(out)")
    }
}

struct Bag: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Bagging: fine-tune several models, each on its own bootstrap resample of the training split, and score their ensemble.",
        discussion:
            "Every member is an ordinary run folder (NAME-bagK) with the same seed, so the validation and test splits are shared. Run again after an interruption, the command reuses the members that finished and resumes the one that was cut short (--fresh trains them all anew)."
    )

    @Option(help: "How many models (bootstrap resamples 1 to K).") var models = 5
    @Flag(help: "Train every member anew rather than reuse or resume earlier runs of the same members.")
    var fresh = false
    @OptionGroup var training: TrainingOptions

    func validate() throws { try within("--models", models, 2...100) }

    func run() throws {
        let result = try interruptible { try Bagging.run(training.options, models: models, fresh: fresh) }
        print(result.summaryLine)
        print("ensemble: finetune predict " + result.files.map { "--model \($0)" }.joined(separator: " ") + " IMAGE...")
    }
}

struct Tune: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Random search of the learning rate and weight decay in log space, wide then narrowed around the best third.",
        discussion:
            "Writes tune.json, tune.md and tune.png (validation accuracy against the learning rate) and every trial's run folder under --out."
    )

    @Option(help: "How many trials.") var trials = 8
    @Option(
        help:
            "Keep the best K trials' models as an ensemble (OUT/ensemble/model-N.h5; with --snapshots every snapshot of each, model-N-cycle-K.h5)."
    ) var keep = 0
    @Option(name: .customLong("tune-freeze"), help: "Also choose --freeze among these stage counts, e.g. 2,3,4.")
    var tuneFreeze: String?
    @Option(
        name: .customLong("tune-dropout"),
        help: "Also sample --dropout uniformly in LO,HI, e.g. 0,0.5 (ResNets).")
    var tuneDropout: String?
    @Option(help: "Where the search goes.") var out = "runs/tune"
    @OptionGroup var training: TrainingOptions

    func validate() throws {
        try within("--trials", trials, 1...1000)
        try within("--keep", keep, 0...trials)
    }

    func run() throws {
        var ranges = Tuning.Ranges()
        if let tuneFreeze {
            let values = tuneFreeze.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty else {
                throw ValidationError("--tune-freeze takes stage counts like 2,3,4, not '\(tuneFreeze)'")
            }
            ranges.freeze = values
        }
        if let tuneDropout {
            let bounds = tuneDropout.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard bounds.count == 2, bounds[0] >= 0, bounds[0] <= bounds[1], bounds[1] < 1 else {
                throw ValidationError(
                    "--tune-dropout takes two rates LO,HI with 0 ≤ LO ≤ HI < 1, like 0,0.5, not '\(tuneDropout)'")
            }
            ranges.dropout = bounds[0]...bounds[1]
        }
        let ranked = try interruptible { try Tuning.run(training.options, trials: trials, ranges: ranges, folder: out) }
        print(
            "best: "
                + String(
                    format: "lr %.3g, weight decay %.3g%@: validation accuracy %.1f%%%@ (%@)",
                    Double(ranked[0].learningRate),
                    Double(ranked[0].weightDecay),
                    (ranked[0].freeze.map { ", --freeze \($0)" } ?? "")
                        + (ranked[0].dropout.map { String(format: ", --dropout %.2f", $0) } ?? ""),
                    ranked[0].validationAccuracy * 100,
                    ranked[0].scoredOn,
                    ranked[0].runFolder))
        if keep > 0 {
            let files = try Tuning.keep(ranked, count: keep, folder: out)
            print(
                "ensemble of \(files.count) models from the best \(keep) trials: finetune predict "
                    + files.map { "--model \($0)" }.joined(separator: " ")
                    + " IMAGE...")
        }
        print("table: \(out)/tune.md, chart: \(out)/tune.png")
    }
}

/// Runs a training command with the Ctrl-C/SIGTERM handlers installed: an interrupted run
/// prints what was kept and how to resume it, and the command exits with 130.
func interruptible<T>(_ body: () throws -> T) throws -> T {
    Interrupts.install()
    do {
        return try body()
    } catch let error as FineTuneError {
        if case .interrupted = error {
            warn("\(error)")
            throw ExitCode(130)
        }
        throw error
    }
}
