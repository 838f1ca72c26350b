import Crypto
import Engine
import Foundation
import Layers
import Logging
import Optimizers
import Vision
import Zoo

/// Why a fine-tuning run could not start or did not finish; each `description` says what to change
/// or which command to run.
public enum FineTuneError: Error, CustomStringConvertible {
    /// `--size asked` for an architecture (or zoo entry) that takes `size`x`size` images only.
    case fixedInputSize(architecture: String, size: Int, asked: Int)
    /// The architecture cannot be sized to `size`x`size` inputs; `problem` says why.
    case invalidSize(architecture: String, size: Int, problem: String)
    /// `--freeze asked` is more than the architecture's `stages` stages.
    case freezeTooDeep(architecture: String, asked: Int, stages: Int)
    /// No image under `folder` could be decoded; `skipped` counts those that failed.
    case noImages(folder: String, skipped: Int)
    /// The named class has no decodable image; `skipped` counts the images skipped in the whole folder.
    case classWithoutImages(String, skipped: Int)
    /// The split left the training, validation or (with `testFraction` > 0) test split empty; `counts`
    /// are the images per class, `fraction` the validation plus test fraction.
    case tooFewImages(counts: [Int], fraction: Double)
    /// Training stopped on a `TrainingError` (non-finite or exploding loss or weights) after `epochs`
    /// complete epochs; the best epoch's model, or with none the starting weights, is at `savedTo`.
    case diverged(TrainingError, savedTo: String, epochs: Int)
    /// Ctrl-C or SIGTERM stopped the run after `epochs` complete epochs; `finetune resume runFolder`
    /// continues it from its checkpoint.
    case interrupted(runFolder: String, epochs: Int)
    /// `finetune resume` cannot continue `runFolder`: it finished, has no checkpoint or its data changed.
    case notResumable(runFolder: String, reason: String)
    /// `--lr auto`: the learning-rate finder diverged after `steps` steps, too early to suggest a rate.
    case noLearningRate(steps: Int)
    /// `--weights name` names converted ImageNet weights that `finetune zoo get` has not downloaded yet.
    case notFetched(name: String)
    /// `--dropout` / `--drop-block` on an architecture that has no place for them (ResNets have).
    case regularisationUnavailable(option: String, architecture: String)
    /// `--drop-block` with a `--freeze` that reaches into the last two stages, which it regularises.
    case dropBlockOnFrozenStage(freeze: String, architecture: String)

    /// One line for the command line: what went wrong and what to do about it.
    public var description: String {
        switch self {
        case .dropBlockOnFrozenStage(let freeze, let architecture):
            return
                "--drop-block with --freeze \(freeze): DropBlock regularises \(architecture)'s last two stages, and this "
                + "freezes one of them; freeze fewer stages or drop --drop-block"
        case .regularisationUnavailable(let option, let architecture):
            return "\(option) is available for ResNets only, not \(architecture); drop it or choose a ResNet --base"
        case .notFetched(let name):
            return
                "--weights \(name): not downloaded yet; run `finetune zoo get \(name)` first (into \(ImageNetWeights.home))"
        case .fixedInputSize(let architecture, let size, let asked):
            return
                "\(architecture) takes \(size)x\(size) images only; drop --size \(asked) (images are resized to \(size))"
        case .invalidSize(let architecture, let size, let problem):
            return "\(architecture) cannot take \(size)x\(size) images: \(problem); choose another --size"
        case .freezeTooDeep(let architecture, let asked, let stages):
            return
                "--freeze \(asked): \(architecture) has \(stages) stages; use 0...\(stages), or 'all' to train only the head"
        case .noImages(let folder, let skipped):
            return "\(folder): no image could be decoded (\(skipped) skipped); see the warnings above"
        case .classWithoutImages(let name, let skipped):
            return "class '\(name)' has no readable image (\(skipped) images were skipped); fix or remove that folder"
        case .tooFewImages(let counts, let fraction):
            return "too few images for a validation split of \(Int(fraction * 100))% (per class: \(counts)); add images"
        case .diverged(let error, let path, let epochs):
            return "\(error). "
                + (epochs > 0
                    ? "The model of the best epoch was saved to \(path)"
                    : "No epoch finished, so \(path) holds the weights training started from, not a trained model")
        case .interrupted(let run, let epochs):
            return
                "interrupted after \(epochs) complete epoch(s): the best model so far is \(run)/model.h5 and the checkpoint "
                + "\(run)/checkpoint.h5; continue exactly where it stopped with `finetune resume \(run)`"
        case .notResumable(let run, let reason): return "\(run): cannot resume: \(reason)"
        case .noLearningRate(let steps):
            return
                "--lr auto: the learning-rate finder diverged after \(steps) steps, too early to suggest a rate; pass --lr"
        }
    }
}

/// What a finished run returns: its folder, its history and the evaluations of the weights it ended with.
public struct FineTuneResult: Sendable {
    /// The run's folder (model.h5, log.jsonl, the charts, summary.txt, report.html).
    public var runFolder: String
    /// Every epoch's record in order (a resumed run's includes the epochs before the interruption).
    public var history: [EpochRecord]
    /// The validation split, on the weights training ended with (the best epoch's).
    public var validation: Evaluation
    /// The held-out test split (`testFraction` > 0), never used to choose the epoch.
    public var test: Evaluation?
    /// The class names in label order (the model's output index).
    public var classNames: [String]
    /// The best epoch by the monitored figure (early stopping's choice).
    public var bestEpoch: Int?
    /// Wall-clock seconds from setting up the feature cache to the end of training (loading the data,
    /// building the model and writing the run folder excluded).
    public var seconds: Double
    /// The ensemble of the cycle-end snapshots (`--snapshots`); nil without them.
    public var snapshotEnsemble: SnapshotEnsembleResult? = nil

    /// One line for the end of a run: validation accuracy and the best epoch, the held-out test
    /// accuracy when there is a test split, and the run folder.
    public var summaryLine: String {
        var line = String(
            format: "validation accuracy %.1f%% (best epoch %d, chosen on the validation split)",
            validation.accuracy * 100, bestEpoch ?? 0)
        if let test { line += String(format: "; held-out test accuracy %.1f%%", test.accuracy * 100) }
        if let snapshotEnsemble { line += "; " + snapshotEnsemble.summaryLine }
        return line + "; wrote \(runFolder)"
    }
}

/// How the snapshot ensemble of a run (`--snapshots`) scores: its members average their probabilities.
public struct SnapshotEnsembleResult: Sendable {
    /// The members' weight files (`snapshots/cycle-K.h5`), in cycle order.
    public var files: [String]
    /// The ensemble on the validation split.
    public var validation: Evaluation
    /// The ensemble on the held-out test split, when there is one.
    public var test: Evaluation?

    /// "snapshot ensemble of 3 models: validation accuracy 61.2%, held-out test accuracy 58.6%".
    public var summaryLine: String {
        var line = String(
            format: "snapshot ensemble of %d models: validation accuracy %.1f%%", files.count, validation.accuracy * 100
        )
        if let test { line += String(format: ", held-out test accuracy %.1f%%", test.accuracy * 100) }
        return line
    }
}

/// The fine-tuning job in named steps, each callable on its own: `resolve` the options,
/// `loadData`, `buildModel`, make the `loaders`, `makeTrainer`, `train`, `writeRunFolder`.
/// `run` does them all; `resume` continues an interrupted run folder exactly.
public enum FineTune {
    /// What the options resolve to before any image is decoded: impossible requests
    /// (a fixed-size architecture at another size, too deep a freeze, a crop larger than the
    /// images) fail here.
    public struct Plan: Sendable {
        /// The options, with `--freeze auto` replaced by the chosen depth once `resolvingAutoFreeze`
        /// has run, and `--lr auto` by the found rate in `run`.
        public var options: FineTuneOptions
        /// The registry entry of the architecture (its name and default preprocessing).
        public var entry: Architectures.Entry
        /// The training image side in pixels (images are resized to `size`x`size`): the architecture's fixed
        /// size, `--size`, the zoo entry's, or the default (32 or 64 for the demo datasets).
        public var size: Int
        /// The training augmentation, parsed from `--pipeline` and checked against `size`.
        public var augmentation: Augmentation
        /// The architecture's number of stages (what `--freeze N` counts).
        public var stageCount: Int
        /// The zoo entry the run starts from, when `--base` named one.
        public var zooEntry: ZooManifest.Entry?
        /// The weight file the run starts from (a zoo entry's or `--weights`), nil: random.
        public var weights: String?
        /// The architecture's configuration before sizing (the zoo entry's, an override, or the registry's).
        public var configuration: ModelConfiguration

        /// The run folder's name: `ARCH-freezeN-seedS`, N being `all`, `auto` or the stage count,
        /// then `-bagK` for bootstrap resample K.
        public var runName: String {
            let freeze =
                options.freeze == .allButHead
                ? "all" : options.freeze == .auto ? "auto" : "\(FineTune.stagesFrozen(options.freeze, of: stageCount))"
            return "\(entry.name)-freeze\(freeze)-seed\(options.seed)" + (options.bootstrap.map { "-bag\($0)" } ?? "")
        }
    }

    /// The decoded images and their split, from `loadData`.
    public struct Data {
        /// Every image, decoded at the training size, with its label and name, and the class names.
        public var images: InMemoryImages
        /// The train / validation / test indices into `images` (Fashion-MNIST: the official test images are
        /// the test split).
        public var split: DatasetSplit
        /// Per-class loss weights (`--balance-classes`: n / (C · n_c) from the training counts); nil:
        /// unweighted.
        public var classWeights: [Float]?
    }

    /// The network to train and how its inputs are prepared, from `buildModel`.
    public struct Model {
        /// The network sized to the classes and input, with its starting weights and the freeze applied.
        public var network: any ZooModel
        /// The input size, channel order and normalisation the loaders apply (saved with the
        /// model).
        public var preprocessing: Preprocessing
    }

    /// The batch loaders of the split, from `loaders`.
    public struct Loaders {
        /// The training images, shuffled and augmented each epoch.
        public var train: BatchLoader
        /// The validation images in order, without augmentation.
        public var validation: BatchLoader
        /// The held-out test images in order, without augmentation; nil without a test split.
        public var test: BatchLoader?
    }

    /// What `--base` and `--weights` resolve to: a zoo entry by name or family (`resnet`
    /// means the zoo's RGB or grey ResNet, by the data's channels) unless `--weights` names a
    /// file or `none`; then the architecture and its configuration. `--weights none` keeps
    /// the entry's architecture, configuration and input size (the same model, from scratch).
    public static func resolve(_ options: FineTuneOptions) throws -> Plan {
        try options.validate()
        var zooEntry: ZooManifest.Entry?
        var shape: ZooManifest.Entry?  // the architecture of the entry `--base` names, without its weights
        var weights = options.weights
        var imagenet: ImageNetWeights?
        if options.weights?.lowercased() == "none" {
            weights = nil
            if options.configuration == nil {
                shape = ZooDirectory.entry(for: options.base, channels: try dataChannels(options))
            }
        } else if let name = options.weights, let fetched = ImageNetWeights.entry(name),
            !FileManager.default.fileExists(atPath: name)
        {
            // `--weights resnet18-torchvision`: the converted file `finetune zoo get` wrote.
            imagenet = fetched
            weights = ImageNetWeights.file(fetched.name)
            guard FileManager.default.fileExists(atPath: weights!) else {
                throw FineTuneError.notFetched(name: fetched.name)
            }
        } else if options.weights == nil, options.configuration == nil {
            zooEntry = ZooDirectory.entry(for: options.base, channels: try dataChannels(options))
            weights = zooEntry.map(ZooDirectory.file(of:))
        }
        let entry = try Architectures.entry((zooEntry ?? shape)?.architecture ?? imagenet?.architecture ?? options.base)
        let base = options.configuration ?? (zooEntry ?? shape)?.configuration ?? entry.configuration(nil)
        let fixed = base.fixedInputSize
        if let fixed, let asked = options.imageSize, asked != fixed {
            throw FineTuneError.fixedInputSize(architecture: entry.name, size: fixed, asked: asked)
        }
        let demo = options.data == nil && options.dataset == nil
        let size =
            fixed ?? options.imageSize ?? zooEntry?.inputSize[0]
            ?? (demo ? (options.demo == .shapes ? 32 : 64) : shape?.inputSize[0] ?? base.inputSize[0])
        let augmentation = try Augmentation(spec: options.pipeline)
        try augmentation.check(trainingSize: size)
        let stageCount = base.build().stages.count
        if case .stages(let n) = options.freeze, n > stageCount {
            throw FineTuneError.freezeTooDeep(architecture: entry.name, asked: n, stages: stageCount)
        }
        return Plan(
            options: options, entry: entry, size: size, augmentation: augmentation, stageCount: stageCount,
            zooEntry: zooEntry, weights: weights, configuration: base)
    }

    /// The channels of the data before decoding it all: 1 for Fashion-MNIST, 3 for the demo;
    /// for a folder 3 when any of up to 32 images spread over it is in colour, else 1 (a colour
    /// folder often holds some grey PNGs, and its first image alone once sent a folder of clip
    /// art to the grey zoo entry).
    static func dataChannels(_ options: FineTuneOptions) throws -> Int {
        if options.dataset == .fashionMNIST { return 1 }
        guard let folder = options.data else { return 3 }
        let source = try ImageFolder(folder, classes: options.classes)
        let count = source.files.count
        guard count > 0 else { return 3 }
        let samples = Set((0..<min(count, 32)).map { $0 * count / min(count, 32) })
        let channels = samples.compactMap { try? source.image(at: $0, fitting: (8, 8)).channels }
        return channels.isEmpty || channels.contains(3) ? 3 : 1
    }

    /// A folder decoded once into memory at the training size, or the demo dataset, and its
    /// stratified split.
    public static func loadData(_ plan: Plan, log: Logger = .graft) throws -> Data {
        let options = plan.options
        let images: InMemoryImages
        var officialTest: [Int] = []
        if options.dataset == .fashionMNIST {
            (images, officialTest) = try fashionMNIST(size: plan.size)
            log.info(
                "Fashion-MNIST: \(images.count - officialTest.count) training images, \(officialTest.count) official test images"
            )
        } else if let folder = options.data {
            var source = try ImageFolder(
                folder, decoder: ImageDecoder(maxPixels: options.maxPixels), classes: options.classes)
            if let minimum = options.subfolderClasses { source = source.bySubfolder(minimum: minimum) }
            if let extra = options.extraData {
                var more = try ImageFolder(extra, decoder: source.decoder, classes: options.extraClasses)
                if let minimum = options.subfolderClasses { more = more.bySubfolder(minimum: minimum) }
                source = source.merged(with: more, prefix: (extra as NSString).lastPathComponent + "/")
                log.info("added \(more.files.count) images in \(more.classNames.count) classes from \(extra)")
            }
            if let other = options.excludeImagesOf {
                let (kept, removed) = try excluding(source, imagesOf: other)
                source = kept
                log.info("left out \(removed.count) images that are also in \(other)")
            }
            let (decoded, skipped) = try InMemoryImages.decoding(
                source, strict: options.strictImages,
                resize: (plan.size, plan.size))
            for (path, reason) in skipped.prefix(10) { log.warning("skipped \(path): \(reason)") }
            if skipped.count > 10 { log.warning("… and \(skipped.count - 10) more unreadable images") }
            if !source.ignoredFiles.isEmpty { log.info("ignored \(source.ignoredFiles.count) non-image file(s)") }
            for entry in source.skipped.prefix(10) { log.warning("skipped \(entry)") }
            if source.skipped.count > 10 { log.warning("… and \(source.skipped.count - 10) more skipped entries") }
            guard decoded.count > 0 else { throw FineTuneError.noImages(folder: folder, skipped: skipped.count) }
            if let empty = decoded.classCounts.indices.first(where: { decoded.classCounts[$0] == 0 }) {
                throw FineTuneError.classWithoutImages(decoded.classNames[empty], skipped: skipped.count)
            }
            images = decoded
        } else {
            images = try demoImages(options, size: plan.size)
            log.info(
                "no --data: training on the embedded demo dataset (\(images.count) images of \(images.classNames.joined(separator: ", ")))"
            )
        }
        log.info("classes: \(images.classSummary)")
        var split = DatasetSplit.stratified(
            labels: images.labels, validation: options.validationFraction,
            test: options.testFraction, seed: options.seed)
        if !officialTest.isEmpty {
            // The official test images are the test split; train and validation come from the rest.
            let pool = Array(0..<(images.count - officialTest.count))
            let inner = DatasetSplit.stratified(
                labels: pool.map { images.labels[$0] }, validation: options.validationFraction, seed: options.seed)
            split = DatasetSplit(
                seed: options.seed, train: inner.train, validation: inner.validation, test: officialTest)
        }
        func limit(_ indices: [Int], _ perClass: Int?) -> [Int] {
            guard let perClass else { return indices }
            var taken: [Int: Int] = [:]
            return indices.filter { i in
                taken[images.labels[i], default: 0] += 1
                return taken[images.labels[i]]! <= perClass
            }
        }
        split.train = limit(split.train, options.trainPerClass)
        split.validation = limit(split.validation, options.validationPerClass)
        if let draw = options.bootstrap {
            split.train = bootstrapped(split.train, labels: images.labels, seed: options.seed, draw: draw)
            log.info(
                "bagging: bootstrap resample \(draw), \(Set(split.train).count) distinct of \(split.train.count) training images"
            )
        }
        guard !split.train.isEmpty, !split.validation.isEmpty, options.testFraction == 0 || !split.test.isEmpty else {
            throw FineTuneError.tooFewImages(
                counts: images.classCounts, fraction: options.validationFraction + options.testFraction)
        }
        let counts = (0..<images.classNames.count).map { c in split.train.filter { images.labels[$0] == c }.count }
        var classWeights: [Float]?
        if options.balanceClasses {
            let weights = counts.map { Float(split.train.count) / (Float(counts.count) * Float(max($0, 1))) }
            classWeights = weights
            let message =
                "class weights (balanced, from the training counts \(counts)): "
                + weights.map { String(format: "%.2f", $0) }.joined(separator: ", ")
            log.info("\(message)")
        } else if let most = counts.max(), let least = counts.min(), least > 0, most >= 3 * least {
            log.notice("the classes are imbalanced (\(counts)); --balance-classes weighs the loss by their counts")
        }
        return Data(images: images, split: split, classWeights: classWeights)
    }

    /// The seed the model is built from. From scratch it is the run's seed (so a pretraining
    /// recipe reproduces its file). With pretrained weights only the new head keeps its random
    /// initialisation, and it must not be the one the pretraining run started from: a run with
    /// the pretraining's seed and as many classes would rebuild that head, which the body was
    /// trained against (a Fashion-MNIST linear probe then scored 93% with seed 0 and 16-32%
    /// with seeds 1 and 2). So the head is drawn from a stream of its own.
    static func initialisationSeed(_ seed: UInt64, pretrained: Bool) -> UInt64 {
        pretrained ? seed ^ 0x6865_6164_696E_6974 : seed  // "headinit"
    }

    /// `configuration` with the options' head dropout and DropBlock (ResNets only).
    static func regularised(_ configuration: ModelConfiguration, _ options: FineTuneOptions, architecture: String)
        throws
        -> ModelConfiguration
    {
        guard options.dropout > 0 || options.dropBlock > 0 else { return configuration }
        guard case .resnet(var config) = configuration else {
            throw FineTuneError.regularisationUnavailable(
                option: options.dropout > 0 ? "--dropout" : "--drop-block", architecture: architecture)
        }
        let stages = config.widths.count + 1  // the stem and the residual stages
        if stagesFrozen(options.freeze, of: stages) > deepestFreeze(options, stages: stages) {
            throw FineTuneError.dropBlockOnFrozenStage(freeze: options.freeze.text, architecture: architecture)
        }
        config.dropout = options.dropout
        config.dropBlock = options.dropBlock
        return .resnet(config)
    }

    /// The architecture sized to the classes and the input, the starting weights (head
    /// replaced), the freeze and the BatchNorm policy; the preprocessing that travels with the
    /// weights (a file's own wins over the architecture's, and a difference is announced).
    public static func buildModel(_ plan: Plan, data: Data, log: Logger = .graft) throws -> Model {
        let options = plan.options
        Random.seed(initialisationSeed(options.seed, pretrained: plan.weights != nil))
        let channels = plan.zooEntry?.inputSize[2] ?? (data.images.images.contains { $0.channels == 3 } ? 3 : 1)
        let configuration = try regularised(
            plan.configuration.withClasses(data.images.classNames.count).withInputChannels(channels).sized(
                to: plan.size),
            options, architecture: plan.entry.name)
        if let problem = configuration.problem {
            throw FineTuneError.invalidSize(architecture: plan.entry.name, size: plan.size, problem: problem)
        }
        let network = configuration.build()
        var preprocessing = plan.entry.preprocessing
        if let weights = plan.weights {
            let report = try WeightFile.load(weights, into: network, options: LoadOptions(skipHead: true))
            if let zoo = plan.zooEntry {
                let message = String(
                    format: "starting from the zoo's %@ (%@; %.1f%% test accuracy), head replaced for %d classes",
                    zoo.name, zoo.summary, zoo.testAccuracy * 100, data.images.classNames.count)
                log.info("\(message)")
            } else {
                log.info(
                    "loaded \(weights): \(report.loaded) tensors, head replaced for \(data.images.classNames.count) classes"
                )
            }
            if let stored = try WeightArchive.read(weights).metadata?.preprocessing {
                if plan.zooEntry == nil
                    && (stored.channelOrder != preprocessing.channelOrder || stored.mean != preprocessing.mean
                        || stored.std != preprocessing.std)
                {
                    log.notice(
                        "\(weights) was trained with \(stored.channelOrder) mean \(stored.mean) std \(stored.std); using that, not \(plan.entry.name)'s default"
                    )
                }
                preprocessing = stored
            }
        } else if options.freeze != .stages(0) && options.weights?.lowercased() != "none" {
            log.notice(
                "no pretrained weights (the zoo has no entry for \(options.base); see `finetune zoo list`), so the frozen stages keep their random initialisation"
            )
        }
        switch options.freeze {
        case .stages(let n): network.freezeStages(n)
        case .allButHead: network.freezeAllButHead()
        case .auto: break  // resolved by `run` before the model is built
        }
        if options.batchNorm == .train {
            for case let layer as BatchNorm in network.namedModules.map(\.module) where layer.isFrozen {
                layer.frozenBehaviour = .batchStatistics
            }
        }
        if options.normalization == .data && (options.mean == nil || options.std == nil) {
            let (mean, std) = data.images.channelStatistics(at: data.split.train, channels: channels)
            let bgr = preprocessing.channelOrder == "BGR"  // the statistics follow the model's channel order
            preprocessing.mean = bgr ? mean.reversed() : mean
            preprocessing.std = bgr ? std.reversed() : std
            let measured =
                "--normalize data: mean "
                + preprocessing.mean.map { String(format: "%.3f", $0) }.joined(separator: ", ")
                + ", std " + preprocessing.std.map { String(format: "%.3f", $0) }.joined(separator: ", ")
                + " from the \(data.split.train.count) training images"
            log.info("\(measured)")
            if plan.weights != nil {
                log.notice(
                    "--normalize data with pretrained weights: their features were learnt on inputs normalised their own way; --normalize weights keeps that"
                )
            }
        }
        if let mean = options.mean, let std = options.std {
            preprocessing.mean = mean
            preprocessing.std = std
        }
        func perChannel(_ values: [Float]) -> [Float] {
            values.count == channels
                ? values : Array(repeating: values.reduce(0, +) / Float(values.count), count: channels)
        }
        preprocessing = Preprocessing(
            inputSize: configuration.inputSize, channelOrder: preprocessing.channelOrder,
            mean: perChannel(preprocessing.mean), std: perChannel(preprocessing.std))
        let message =
            "\(plan.entry.name) at \(plan.size)x\(plan.size): \(network.parameterCount.commaGrouped) parameters, "
            + "\(network.trainableParameterCount.commaGrouped) trainable; stages \(network.stages.map(\.name).joined(separator: ", "))"
        log.info("\(message)")
        return Model(network: network, preprocessing: preprocessing)
    }

    /// Augmentation for training only; validation and test in order.
    public static func loaders(_ plan: Plan, data: Data, model: Model) -> Loaders {
        let p = model.preprocessing
        let size = (plan.size, plan.size)
        func loader(_ indices: [Int], augmented: Bool) -> BatchLoader {
            BatchLoader(
                source: data.images, indices: indices, batchSize: plan.options.batchSize, imageSize: size, mean: p.mean,
                std: p.std, channelOrder: p.channelOrder, augmentation: augmented ? plan.augmentation : nil,
                shuffle: augmented, seed: plan.options.seed)
        }
        return Loaders(
            train: loader(data.split.train, augmented: true),
            validation: loader(data.split.validation, augmented: false),
            test: data.split.test.isEmpty ? nil : loader(data.split.test, augmented: false))
    }

    /// The embedded demo: Open Clip Art's food folders (in the package's resources), or the
    /// drawn shapes (fast, for tests).
    static func demoImages(_ options: FineTuneOptions, size: Int) throws -> InMemoryImages {
        switch options.demo {
        case .shapes:
            return DemoShapes.make(perClass: options.demoImagesPerClass, seed: options.seed)
        case .food:
            return try InMemoryImages.decoding(try ImageFolder(demoFolder), strict: true, resize: (size, size)).images
        }
    }

    /// The folder of the embedded food demo.
    public static var demoFolder: String {
        Bundle.module.url(forResource: "demo-food", withExtension: nil)!.path
    }

    /// Fashion-MNIST's 60,000 training images then its 10,000 test images, resized to `size`;
    /// returns the indices of the test images.
    static func fashionMNIST(size: Int) throws -> (InMemoryImages, test: [Int]) {
        let train = try FashionMNIST.load(.train)
        let test = try FashionMNIST.load(.test)
        func images(_ tensor: Tensor) -> [Image] {
            (0..<tensor.shape[0]).map { i in
                let image = Image(tensor, index: i)
                return size == image.width ? image : image.resized(width: size, height: size)
            }
        }
        let all = images(train.images) + images(test.images)
        let names = (0..<train.labels.count).map { "train \($0)" } + (0..<test.labels.count).map { "test \($0)" }
        let source = InMemoryImages(
            images: all, labels: train.labels + test.labels, classNames: FashionMNIST.classNames, names: names)
        return (source, Array(train.labels.count..<(train.labels.count + test.labels.count)))
    }

    /// The training split of bootstrap resample `draw` (`FineTuneOptions.bootstrap`): drawn
    /// with replacement within each class, from the run's seed and the draw.
    static func bootstrapped(_ train: [Int], labels: [Int], seed: UInt64, draw: Int) -> [Int] {
        DatasetSplit.bootstrap(train, labels: labels, seed: mixSeeds(seed, UInt64(draw)))
    }

    /// `source` without the images whose bytes equal those of an image below `other`.
    static func excluding(_ source: ImageFolder, imagesOf other: String) throws -> (ImageFolder, [String]) {
        func digest(_ path: String) -> String? { try? SHA256.hexDigest(ofFile: path) }
        let excluded = Set(ImageFolder.imageFiles(under: other).compactMap(digest))
        let result = source.filtered { path in digest(path).map { !excluded.contains($0) } ?? true }
        return (result.folder, result.removed)
    }

    /// `--freeze auto`: probes the stages of the model as loaded and returns the plan with
    /// the chosen `--freeze N`.
    public static func resolvingAutoFreeze(_ plan: Plan, data: Data, log: Logger = .graft) throws -> (
        Plan, [StageProbe.Result]
    ) {
        guard plan.options.freeze == .auto else { return (plan, []) }
        var probing = plan
        probing.options.freeze = .stages(0)
        let model = try buildModel(probing, data: data, log: .silent)
        let results = try StageProbe.run(
            model: model, loaders: loaders(probing, data: data, model: model), seed: plan.options.seed,
            log: log)
        let limit = deepestFreeze(plan.options, stages: plan.stageCount)
        let (stages, reason) = StageProbe.chooseFreeze(results.filter { $0.stage <= limit })
        log.info(
            "\(reason)\(limit < plan.stageCount ? " (at most \(limit): --drop-block trains the last two stages)" : "")")
        var chosen = plan
        chosen.options.freeze = .stages(stages)
        return (chosen, results)
    }

    /// The most of `stages` stages the options allow to freeze: all of them, or with `--drop-block`
    /// all but the ones DropBlock regularises (`ResNetConfig.dropBlockStages`), which must train.
    static func deepestFreeze(_ options: FineTuneOptions, stages: Int) -> Int {
        options.dropBlock > 0 ? stages - ResNetConfig.dropBlockStages : stages
    }

    static func stagesFrozen(_ freeze: FineTuneOptions.Freeze, of stages: Int) -> Int {
        if case .stages(let n) = freeze { return n }
        return stages
    }
}
