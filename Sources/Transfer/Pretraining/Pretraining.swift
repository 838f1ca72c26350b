import Crypto
import Engine
import Foundation
import Layers
import Logging
import Vision
import Zoo

/// Runs the zoo's recipes: a normal run folder, then the zoo file (zoo/NAME.h5, the best
/// epoch's weights with their preprocessing, class names and provenance), a fixed slice of
/// the test split for the zoo's own test (zoo/NAME-test.h5), the manifest entry in
/// zoo/zoo.json (SHA-256, size, accuracies, the command, wall time and machine) and the model
/// card zoo/NAME.md.
public enum Pretraining {
    /// Images in the stored test slice (the first of the test split, in order).
    public static let sliceImages = 500

    /// What `run` and `finish` return: the manifest entry written and the run folder it came from.
    public struct Outcome: Sendable {
        /// The entry added to zoo.json (replacing one of the same name).
        public var entry: ZooManifest.Entry
        /// The run folder the zoo file was made from.
        public var runFolder: String
    }

    /// Trains `recipe` into a new run folder (under `runs`, else the recipe's runs directory), then
    /// writes its zoo files into `zoo` (see `finish`); messages go to `log`.
    /// - Throws: `PretrainError.missingData` when a folder the recipe trains on is missing (naming the
    ///   package that provides it), and any error of the run or of writing the zoo files.
    public static func run(
        _ recipe: PretrainRecipe, zoo: String = "zoo", runs: String? = nil,
        log: Logger = .graft
    ) throws -> Outcome {
        var options = recipe.options
        if let runs { options.runsDirectory = runs }
        for (folder, package) in recipe.packages where !FileManager.default.fileExists(atPath: folder) {
            throw PretrainError.missingData(recipe: recipe.name, folder: folder, package: package)
        }
        let started = Date()
        let result = try FineTune.run(options, log: log)
        return try finish(
            recipe, runFolder: result.runFolder, seconds: Date().timeIntervalSince(started), zoo: zoo, log: log)
    }

    /// Makes the zoo files from a finished run folder of `recipe` (what `run` does after
    /// training; `finetune pretrain NAME --from-run RUN` when only this step failed).
    public static func finish(
        _ recipe: PretrainRecipe, runFolder: String, seconds: Double, zoo: String = "zoo",
        log: Logger = .graft
    ) throws -> Outcome {
        let saved = try FineTuneOptions.decode(
            Foundation.Data(contentsOf: URL(fileURLWithPath: runFolder + "/options.json")))
        var options = recipe.options
        options.runsDirectory = saved.runsDirectory
        guard saved == options, RunFolder.status(of: runFolder)?.state == .finished else {
            throw PretrainError.notTheRecipesRun(runFolder, recipe: recipe.name)
        }
        try FileManager.default.createDirectory(atPath: zoo, withIntermediateDirectories: true)
        let trained = try TrainedModel(contentsOf: runFolder + "/model.h5")
        let plan = try FineTune.resolve(options)
        let data = try FineTune.loadData(plan, log: .silent)
        let loaders = FineTune.loaders(
            plan, data: data, model: FineTune.Model(network: trained.model, preprocessing: trained.preprocessing))
        guard let testLoader = loaders.test else {
            throw PretrainError.notTheRecipesRun(runFolder, recipe: recipe.name)
        }
        let test = evaluate(trained.model, on: testLoader)
        let validation = evaluate(trained.model, on: loaders.validation)
        let history = try String(contentsOfFile: runFolder + "/log.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try JSONDecoder().decode(EpochRecord.self, from: Foundation.Data($0.utf8)) }
        let bestEpoch =
            (try? JSONSerialization.jsonObject(with: Foundation.Data(trained.metadata.provenance.utf8))
            as? [String: Any])?["best_epoch"] as? Int
        let result = (runFolder: runFolder, test: test, validation: validation, bestEpoch: bestEpoch, history: history)

        // The test slice, and the model's accuracy on it: what the zoo's test checks.
        let slice = Array(data.split.test.prefix(sliceImages))
        let sliceFile = "\(recipe.name)-test.h5"
        try TestSlice.write(
            data.images, indices: slice, channels: trained.preprocessing.inputSize[2], to: zoo + "/" + sliceFile)
        let sliceAccuracy = try TestSlice.accuracy(of: trained, slice: zoo + "/" + sliceFile)

        let provenance: [String: Any] = [
            "source": "finetune pretrain \(recipe.name)", "dataset": recipe.dataset, "license": recipe.license,
            "recipe": try String(contentsOfFile: result.runFolder + "/summary.txt", encoding: .utf8)
                .split(separator: "\n").first { $0.hasPrefix("recipe: ") }.map { String($0.dropFirst(8)) } ?? "",
            "test_accuracy": test.accuracy, "validation_accuracy": result.validation.accuracy,
            "best_epoch": result.bestEpoch ?? 0, "seed": options.seed,
        ]
        let file = zoo + "/\(recipe.name).h5"
        try WeightFile.save(
            trained.model, to: file,
            metadata: WeightMetadata(
                architecture: trained.metadata.architecture, configuration: trained.model.configuration,
                preprocessing: trained.preprocessing, classNames: trained.classNames,
                provenance: String(
                    decoding: try JSONSerialization.data(withJSONObject: provenance, options: [.sortedKeys]),
                    as: UTF8.self)))
        let entry = ZooManifest.Entry(
            name: recipe.name, file: "\(recipe.name).h5", summary: recipe.summary,
            architecture: trained.metadata.architecture,
            configuration: trained.model.configuration, dataset: recipe.dataset, classes: trained.classNames,
            license: recipe.license,
            inputSize: trained.preprocessing.inputSize, channelOrder: trained.preprocessing.channelOrder,
            mean: trained.preprocessing.mean, std: trained.preprocessing.std,
            testAccuracy: test.accuracy, testImages: test.confusion.joined().reduce(0, +),
            testMeasured: options.dataset == .fashionMNIST
                ? "the official Fashion-MNIST test set, never used in training or to choose the epoch"
                : "a stratified held-out 15% of the images (split seed \(options.seed)), never used in training or to choose the epoch",
            validationAccuracy: result.validation.accuracy, bestEpoch: result.bestEpoch ?? 0,
            epochsRun: result.history.count,
            slice: .init(file: sliceFile, images: slice.count, accuracy: sliceAccuracy),
            sha256: try sha256(ofFile: file), bytes: try fileSize(file), command: "finetune pretrain \(recipe.name)",
            seed: options.seed, wallSeconds: seconds.rounded(), machine: machineDescription(),
            date: ISO8601DateFormatter().string(from: Date()), runFolder: result.runFolder)
        var manifest = (try? ZooManifest.read(zoo)) ?? ZooManifest(entries: [])
        manifest.entries.removeAll { $0.name == entry.name }
        manifest.entries.append(entry)
        let order = { (name: String) in PretrainRecipe.all.firstIndex { $0.name == name } ?? PretrainRecipe.all.count }
        manifest.entries.sort { order($0.name) < order($1.name) }
        try manifest.write(to: zoo)
        try AtomicFile.write(
            ModelCard.text(entry, recipe: recipe, history: result.history), to: zoo + "/\(recipe.name).md")
        let message = String(
            format: "zoo: wrote %@ (test accuracy %.2f%% on %d images, %.0f s)", file, test.accuracy * 100,
            entry.testImages, seconds)
        log.info("\(message)")
        return Outcome(entry: entry, runFolder: result.runFolder)
    }

    /// SHA-256 of a file, hex (swift-crypto).
    public static func sha256(ofFile path: String) throws -> String {
        try SHA256.hexDigest(ofFile: path)
    }

    static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// The CPU model, its widest vector ISA and the core count.
    public static func machineDescription() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model =
            info.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":").last
            .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        let isa = info.contains("avx512f") ? "AVX-512" : info.contains("avx2") ? "AVX2" : "SSE"
        return "\(model), \(isa), \(ProcessInfo.processInfo.activeProcessorCount) cores"
    }
}
