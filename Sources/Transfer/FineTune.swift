import Engine
import Foundation
import Layers
import Optimizers
import Vision
import Zoo

/// Everything `finetune --base NAME --freeze N` needs; the command line only fills this in.
public struct FineTuneOptions: Sendable {
    public enum Freeze: Equatable, Sendable { case stages(Int), allButHead }

    public var base: String
    public var freeze: Freeze
    /// An image folder (one sub-folder per class); nil trains on the embedded demo shapes.
    public var data: String?
    /// Weights to start from (Graft, Keras or converted PyTorch file); the head is replaced.
    public var weights: String?
    public var epochs: Int = 10
    public var patience: Int = 3
    public var batchSize: Int = 32
    public var learningRate: Float = 1e-3
    public var seed: UInt64 = 0
    public var validationFraction: Double = 0.2
    public var pipeline: String = "hflip,rotate=10,jitter=0.1"
    /// Input side in pixels (default: 32 for the demo, the architecture's otherwise).
    public var imageSize: Int?
    public var strictImages = false
    /// The folder that receives the run; an existing one is never overwritten (a suffix is added).
    public var runsDirectory: String = "runs"
    /// Images per class of the demo dataset.
    public var demoImagesPerClass = 120
    /// Weigh the loss by "balanced" class weights computed from the training split's counts.
    public var balanceClasses = false
    /// Show a progress bar when standard output is a terminal.
    public var progressBar = true
    /// Images with more pixels than this are refused when they must be decoded at full size.
    public var maxPixels = ImageDecoder.defaultMaxPixels

    public init(base: String, freeze: Freeze) { self.base = base; self.freeze = freeze }

    /// Throws unless every number lies in its `Limits` range.
    public func validate() throws {
        try Limits.check("epochs", epochs, in: Limits.epochs)
        try Limits.check("patience", patience, in: Limits.patience)
        try Limits.check("batch size", batchSize, in: Limits.batchSize)
        try Limits.check("image size", imageSize, in: Limits.imageSide)
        try Limits.check("max pixels", maxPixels, in: Limits.maxPixels)
        guard learningRate > 0, learningRate.isFinite else {
            throw LimitError(option: "learning rate", value: "\(learningRate)", allowed: "a positive number")
        }
    }

    /// Parses `--freeze`: a stage count or `all`.
    public static func parseFreeze(_ text: String) -> Freeze? {
        text.lowercased() == "all" ? .allButHead : Int(text).flatMap { $0 >= 0 ? .stages($0) : nil }
    }
}

public struct FineTuneResult: Sendable {
    public var runFolder: String
    public var history: [EpochRecord]
    public var validation: Evaluation
    public var classNames: [String]
}

/// The fine-tuning job: data, split, model, freezing, training with early stopping, and the
/// run folder (model, log, split, preview, summary).
public enum FineTuneError: Error, CustomStringConvertible {
    case fixedInputSize(architecture: String, size: Int, asked: Int)
    case invalidSize(architecture: String, size: Int, problem: String)
    case freezeTooDeep(architecture: String, asked: Int, stages: Int)
    case noImages(folder: String, skipped: Int)
    case classWithoutImages(String, skipped: Int)
    case tooFewImages(counts: [Int], fraction: Double)
    case diverged(TrainingError, savedTo: String)

    public var description: String {
        switch self {
        case let .fixedInputSize(architecture, size, asked):
            return "\(architecture) takes \(size)x\(size) images only; drop --size \(asked) (images are resized to \(size))"
        case let .invalidSize(architecture, size, problem): return "\(architecture) cannot take \(size)x\(size) images: \(problem); choose another --size"
        case let .freezeTooDeep(architecture, asked, stages):
            return "--freeze \(asked): \(architecture) has \(stages) stages; use 0...\(stages), or 'all' to train only the head"
        case let .noImages(folder, skipped): return "\(folder): no image could be decoded (\(skipped) skipped); see the warnings above"
        case let .classWithoutImages(name, skipped):
            return "class '\(name)' has no readable image (\(skipped) images were skipped); fix or remove that folder"
        case let .tooFewImages(counts, fraction):
            return "too few images for a validation split of \(Int(fraction * 100))% (per class: \(counts)); add images"
        case let .diverged(error, path): return "\(error). The model of the best epoch was saved to \(path)"
        }
    }
}

public enum FineTune {
    public static func run(_ options: FineTuneOptions, say: (String) -> Void = { print($0) }) throws -> FineTuneResult {
        Random.seed(options.seed)
        let entry = try Architectures.entry(options.base)
        try options.validate()

        // Check what can be checked before decoding any image: the input size and the freeze.
        let fixed = entry.configuration(nil).fixedInputSize
        if let fixed, let asked = options.imageSize, asked != fixed {
            throw FineTuneError.fixedInputSize(architecture: entry.name, size: fixed, asked: asked)
        }
        let size = fixed ?? options.imageSize ?? (options.data == nil ? 32 : entry.preprocessing.inputSize[0])
        try Augmentation(spec: options.pipeline).check(trainingSize: size)
        let stageCount = entry.configuration(nil).build().stages.count
        if case let .stages(n) = options.freeze, n > stageCount {
            throw FineTuneError.freezeTooDeep(architecture: entry.name, asked: n, stages: stageCount)
        }
        if options.weights == nil, options.freeze != .stages(0) {
            say("note: no --weights, so the frozen stages keep their random initialisation (import pretrained weights with `finetune import`)")
        }

        // Data: a folder decoded once into memory at the training size, or the demo shapes.
        let images: InMemoryImages
        if let folder = options.data {
            let source = try ImageFolder(folder, decoder: ImageDecoder(maxPixels: options.maxPixels))
            let (decoded, skipped) = try InMemoryImages.decoding(source, strict: options.strictImages, resize: (size, size))
            for (path, reason) in skipped.prefix(10) { say("warning: skipped \(path): \(reason)") }
            if skipped.count > 10 { say("warning: … and \(skipped.count - 10) more unreadable images") }
            if !source.ignoredFiles.isEmpty { say("ignored \(source.ignoredFiles.count) non-image file(s)") }
            for entry in source.skipped.prefix(10) { say("warning: skipped \(entry)") }
            if source.skipped.count > 10 { say("warning: … and \(source.skipped.count - 10) more skipped entries") }
            guard decoded.count > 0 else { throw FineTuneError.noImages(folder: folder, skipped: skipped.count) }
            if let empty = decoded.classCounts.indices.first(where: { decoded.classCounts[$0] == 0 }) {
                throw FineTuneError.classWithoutImages(decoded.classNames[empty], skipped: skipped.count)
            }
            images = decoded
        } else {
            images = DemoShapes.make(perClass: options.demoImagesPerClass, seed: options.seed)
            say("no --data: training on the embedded demo dataset (\(images.count) images of \(DemoShapes.classNames.joined(separator: ", ")))")
        }
        say("classes: \(images.classSummary)")
        let split = DatasetSplit.stratified(labels: images.labels, validation: options.validationFraction, seed: options.seed)
        guard !split.train.isEmpty, !split.validation.isEmpty else {
            throw FineTuneError.tooFewImages(counts: images.classCounts, fraction: options.validationFraction)
        }

        // The model, sized to the classes and the input.
        let configuration = entry.configuration(images.classNames.count).sized(to: size)
        if let problem = configuration.problem { throw FineTuneError.invalidSize(architecture: entry.name, size: size, problem: problem) }
        let model = configuration.build()
        if let weights = options.weights {
            let report = try WeightFile.load(weights, into: model, options: LoadOptions(skipHead: true))
            say("loaded \(weights): \(report.loaded) tensors, head replaced for \(images.classNames.count) classes")
        }
        switch options.freeze {
        case let .stages(n): model.freezeStages(n)
        case .allButHead: model.freezeAllButHead()
        }
        say("\(entry.name) at \(size)x\(size): \(model.parameterCount.commaGrouped) parameters, \(model.trainableParameterCount.commaGrouped) trainable; stages \(model.stages.map(\.name).joined(separator: ", "))")

        // Loaders: augmentation for training only.
        // Preprocessing travels with the weights: a file's own (e.g. Keras's BGR "caffe" means)
        // wins over the architecture's default, and a difference is announced.
        var preprocessing = entry.preprocessing
        if let weights = options.weights, let stored = try WeightArchive.read(weights).metadata?.preprocessing {
            if stored.channelOrder != preprocessing.channelOrder || stored.mean != preprocessing.mean || stored.std != preprocessing.std {
                say("note: \(weights) was trained with \(stored.channelOrder) mean \(stored.mean) std \(stored.std); using that, not \(entry.name)'s default")
            }
            preprocessing = stored
        }
        let channels = configuration.inputSize[2]
        let mean = channels == preprocessing.mean.count ? preprocessing.mean : Array(repeating: preprocessing.mean.reduce(0, +) / Float(preprocessing.mean.count), count: channels)
        let std = channels == preprocessing.std.count ? preprocessing.std : Array(repeating: preprocessing.std.reduce(0, +) / Float(preprocessing.std.count), count: channels)
        let augmentation = try Augmentation(spec: options.pipeline)
        let train = BatchLoader(source: images, indices: split.train, batchSize: options.batchSize, imageSize: (size, size), mean: mean, std: std,
                                channelOrder: preprocessing.channelOrder, augmentation: augmentation, seed: options.seed)
        let validation = BatchLoader(source: images, indices: split.validation, batchSize: options.batchSize, imageSize: (size, size),
                                     mean: mean, std: std, channelOrder: preprocessing.channelOrder, shuffle: false)

        // The run folder: never reuse an existing one.
        let run = try makeRunFolder(options.runsDirectory, name: "\(entry.name)-freeze\(options.freeze == .allButHead ? "all" : "\(stagesFrozen(options.freeze))")-seed\(options.seed)")
        try split.save(to: run + "/split.json")
        let preview = AugmentationPreview(images: split.train.prefix(4).map { (images.name(at: $0), images.images[$0].resized(width: size, height: size)) },
                                          augmentation: augmentation, versions: 6, seed: options.seed, cellSize: max(size, 48))
        try preview.write(to: run + "/augmentation.png")

        let optimizer = Optimizer(Adam(), parameters: model.trainableParameters, learningRate: options.learningRate)
        let trainer = Trainer(model: model, optimizer: optimizer)
        let counts = (0..<images.classNames.count).map { c in split.train.filter { images.labels[$0] == c }.count }
        if options.balanceClasses {
            let weights = counts.map { Float(split.train.count) / (Float(counts.count) * Float(max($0, 1))) }
            trainer.classWeights = Tensor(weights)
            say("class weights (balanced, from the training counts \(counts)): " + weights.map { String(format: "%.2f", $0) }.joined(separator: ", "))
        } else if let most = counts.max(), let least = counts.min(), least > 0, most >= 3 * least {
            say("note: the classes are imbalanced (\(counts)); --balance-classes weighs the loss by their counts")
        }
        trainer.schedule = CosineDecay(period: max(1, options.epochs * train.batchesPerEpoch), minimum: 0.01)
        let log = run + "/log.jsonl"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // On a terminal: a progress bar with images/s and ETA; in a file or CI log: one line per epoch.
        let terminal = isatty(STDOUT_FILENO) != 0 && options.progressBar
        var diverged: TrainingError?
        var history: [EpochRecord] = []
        do {
            _ = try trainer.fit(train: train, validation: validation, epochs: options.epochs,
                                      earlyStopping: EarlyStopping(patience: options.patience), onBatch: { epoch, batch, batches, images, seconds in
            guard terminal else { return }
            let done = Double(batch) / Double(max(batches, 1)), width = 30
            let bar = String(repeating: "#", count: Int(done * Double(width))).padding(toLength: width, withPad: ".", startingAt: 0)
            let rate = Double(images) / max(seconds, 1e-9)
            print(String(format: "\repoch %d/%d [%@] %3.0f%%  %.0f img/s  ETA %.0f s ", epoch, options.epochs, bar, done * 100, rate,
                         seconds / max(done, 1e-9) - seconds), terminator: "")
            fflush(stdout)
        }) { record in
            if terminal { print("\r", terminator: "") }
            try AtomicFile.append(try encoder.encode(record) + Data("\n".utf8), to: log)
            say(String(format: "epoch %2d/%d  loss %.4f  acc %.1f%%  val loss %.4f  val acc %.1f%%  %.0f img/s", record.epoch, options.epochs,
                       record.trainLoss, record.trainAccuracy * 100, record.validationLoss ?? Double.nan, (record.validationAccuracy ?? Double.nan) * 100,
                       record.imagesPerSecond))
            history.append(record)
        }
        } catch let error as TrainingError {
            // The trainer restored the best weights: keep them, and say what happened.
            if terminal { print("") }
            diverged = error
        }
        let evaluation = trainer.evaluate(validation, classWeights: trainer.classWeights, labelSmoothing: trainer.labelSmoothing)
        let best = history.max { ($0.validationLoss.map { -$0 } ?? 0) < ($1.validationLoss.map { -$0 } ?? 0) }
        let provenance = try JSONSerialization.data(withJSONObject: [
            "source": options.weights ?? "random initialisation", "dataset": options.data ?? "demo shapes", "recipe": recipe(options),
            "validation_accuracy": evaluation.accuracy, "best_epoch": best?.epoch ?? 0, "diverged": diverged != nil,
        ], options: [.sortedKeys])
        try WeightFile.save(model, to: run + "/model.h5", metadata: WeightMetadata(
            architecture: entry.name, configuration: model.configuration,
            preprocessing: Preprocessing(inputSize: configuration.inputSize, channelOrder: preprocessing.channelOrder, mean: mean, std: std),
            classNames: images.classNames, provenance: String(decoding: provenance, as: UTF8.self)))
        // Curves: losses (train blue, validation orange) and accuracies (train green, validation red).
        try Plot.lines([(history.map(\.trainLoss), (0.12, 0.47, 0.71)), (history.map { $0.validationLoss ?? .nan }, (1, 0.5, 0.05))])
            .writePNG(to: run + "/loss.png")
        try Plot.lines([(history.map(\.trainAccuracy), (0.17, 0.63, 0.17)), (history.map { $0.validationAccuracy ?? .nan }, (0.84, 0.15, 0.16))])
            .writePNG(to: run + "/accuracy.png")
        try Plot.confusion(evaluation.confusion).writePNG(to: run + "/confusion.png")
        try AtomicFile.write(summary(run: run, options: options, history: history, evaluation: evaluation, classNames: images.classNames)
                             + (diverged.map { "\nTRAINING DIVERGED: \($0)\n" } ?? ""), to: run + "/summary.txt")
        if let diverged { throw FineTuneError.diverged(diverged, savedTo: run + "/model.h5") }
        say(String(format: "validation accuracy %.1f%% (best epoch %d, the validation split chose it); wrote %@",
                   evaluation.accuracy * 100, best?.epoch ?? 0, run))
        return FineTuneResult(runFolder: run, history: history, validation: evaluation, classNames: images.classNames)
    }

    static func stagesFrozen(_ freeze: FineTuneOptions.Freeze) -> Int {
        if case let .stages(n) = freeze { return n }
        return -1
    }

    static func recipe(_ o: FineTuneOptions) -> String {
        "Adam lr \(o.learningRate) cosine, batch \(o.batchSize), \(o.epochs) epochs, patience \(o.patience), pipeline \(o.pipeline), seed \(o.seed)"
    }

    static func makeRunFolder(_ root: String, name: String) throws -> String {
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: root, isDirectory: &isFolder), !isFolder.boolValue {
            throw FileWriteError.failed(path: root, reason: "it is a file, and run folders go inside a folder; pass another --runs")
        }
        do { try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true) } catch {
            throw FileWriteError.failed(path: root, reason: "the runs folder cannot be created (\(error.localizedDescription))")
        }
        var candidate = root + "/" + name, n = 2
        while FileManager.default.fileExists(atPath: candidate) { candidate = root + "/" + name + "-\(n)"; n += 1 }
        try FileManager.default.createDirectory(atPath: candidate, withIntermediateDirectories: false)
        return candidate
    }

    static func summary(run: String, options: FineTuneOptions, history: [EpochRecord], evaluation: Evaluation, classNames: [String]) -> String {
        var lines = ["run: \(run)", "base: \(options.base), freeze: \(options.freeze)", "recipe: \(recipe(options))",
                     "epochs run: \(history.count)",
                     String(format: "validation accuracy: %.2f%% (the validation split also chose the epoch, so this is optimistic)", evaluation.accuracy * 100), "",
                     "confusion matrix (rows: true class, columns: predicted):"]
        let width = max(8, (classNames.map(\.count).max() ?? 0) + 1)
        lines.append(String(repeating: " ", count: width) + classNames.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
        for (i, row) in evaluation.confusion.enumerated() {
            lines.append(classNames[i].padding(toLength: width, withPad: " ", startingAt: 0)
                         + row.map { String($0).padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
