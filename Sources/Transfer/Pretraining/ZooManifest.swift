import Engine
import Foundation
import Layers
import Vision
import Zoo

/// zoo/zoo.json: one entry per pretrained model, with everything needed to trust and use it.
public struct ZooManifest: Codable, Sendable {
    /// The stored test slice of an entry, for checking the model without its dataset.
    public struct Slice: Codable, Equatable, Sendable {
        /// The stored images (zoo/NAME-test.h5: uint8 `images` NHWC, int32 `labels`).
        public var file: String
        /// The number of images in the slice.
        public var images: Int
        /// The model's accuracy on them when it was made; the zoo's test checks it.
        public var accuracy: Double
    }

    /// One pretrained model: its file, what it was trained on, how well it does and how it was made
    /// (snake_case keys in zoo.json).
    public struct Entry: Codable, Equatable, Sendable {
        /// The entry's name (`resnet18-clipart`), as `--base` and `TrainedModel(zooEntry:)` take it.
        public var name: String
        /// The weight file, relative to the zoo folder (`NAME.h5`).
        public var file: String
        /// One line for listings: architecture, data and input.
        public var summary: String
        /// The zoo architecture name (`Architectures`).
        public var architecture: String
        /// The configuration the model was built from, class count included.
        public var configuration: ModelConfiguration
        /// The training data: source, packages and how it was labelled.
        public var dataset: String
        /// The head's class names, in output order.
        public var classes: [String]
        /// The training data's licence(s).
        public var license: String
        /// [height, width, channels] of the input.
        public var inputSize: [Int]
        /// "RGB", "BGR" or "L", as `Preprocessing.channelOrder`.
        public var channelOrder: String
        /// Per-channel normalisation mean (of pixels in [0, 1]).
        public var mean: [Float]
        /// Per-channel normalisation standard deviation.
        public var std: [Float]
        /// Accuracy on the held-out test split, in [0, 1].
        public var testAccuracy: Double
        /// The number of test images `testAccuracy` was measured on.
        public var testImages: Int
        /// What the test split was (the official test set, or a stratified held-out share and its seed).
        public var testMeasured: String
        /// Accuracy on the validation split, which also chose the epoch (so optimistic).
        public var validationAccuracy: Double
        /// The epoch whose weights were kept (1-based; 0 when unknown).
        public var bestEpoch: Int
        /// Epochs trained before the run ended (early stopping included).
        public var epochsRun: Int
        /// The stored test slice and the accuracy on it.
        public var slice: Slice
        /// SHA-256 of the weight file, hex.
        public var sha256: String
        /// Size of the weight file in bytes.
        public var bytes: Int
        /// The command that makes the entry (`finetune pretrain NAME`).
        public var command: String
        /// The seed the run was made with (split, initialisation, augmentation).
        public var seed: UInt64
        /// Wall-clock seconds pretraining took, rounded.
        public var wallSeconds: Double
        /// The CPU, its widest vector ISA and core count the run had.
        public var machine: String
        /// When the entry was written (ISO 8601).
        public var date: String
        /// The run folder the model came from.
        public var runFolder: String
    }

    /// The entries, in `PretrainRecipe.all` order.
    public var entries: [Entry]

    /// A manifest of `entries`.
    public init(entries: [Entry]) { self.entries = entries }

    /// Reads `zoo.json` from the folder `zoo`.
    /// - Throws: a file error when it cannot be read, `DecodingError` when it is not a manifest.
    public static func read(_ zoo: String) throws -> ZooManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ZooManifest.self, from: Data(contentsOf: URL(fileURLWithPath: zoo + "/zoo.json")))
    }

    /// Writes `zoo.json` (pretty-printed, sorted snake_case keys) into the folder `zoo`, atomically.
    public func write(to zoo: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try encoder.encode(self), to: zoo + "/zoo.json")
    }

    /// The entry named exactly `name`, or nil.
    public func entry(_ name: String) -> Entry? { entries.first { $0.name == name } }
}

/// A fixed slice of a test split, stored beside a zoo entry so that CI can check the entry's
/// accuracy without the dataset.
public enum TestSlice {
    /// Every image as `channels` channels (a grey drawing among colour ones becomes RGB, as
    /// the loader's batches make it).
    public static func write(_ source: InMemoryImages, indices: [Int], channels: Int, to path: String) throws {
        let first = source.images[indices[0]]
        var bytes: [UInt8] = []
        bytes.reserveCapacity(indices.count * first.width * first.height * channels)
        for i in indices {
            let image = source.images[i]
            bytes += (image.channels == channels ? image : image.converted(toChannels: channels)).bytes
        }
        try HDF5File.write(atomicallyTo: path) { file in
            try file.write(bytes: bytes, shape: [indices.count, first.height, first.width, channels], at: "images")
            try file.write(indices.map { Int32(source.labels[$0]) }, at: "labels")
            try file.writeStrings(source.classNames, name: "class_names")
        }
    }

    /// The images and labels of a stored slice.
    public static func read(_ path: String) throws -> InMemoryImages {
        let file = try HDF5File(reading: path)
        let pixels = try file.readTensor("images")
        let labels = try file.readTensor("labels").scalars.map { Int($0) }
        let (n, h, w, c) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], pixels.shape[3])
        let images = (0..<n).map { i in
            Image(
                width: w, height: h, channels: c,
                data: Array(pixels.scalars[(i * h * w * c)..<((i + 1) * h * w * c)]).map { $0 / 255 })
        }
        return InMemoryImages(images: images, labels: labels, classNames: try file.readStrings("class_names"))
    }

    /// The model's accuracy on a stored slice, through its own preprocessing.
    public static func accuracy(of model: TrainedModel, slice path: String) throws -> Double {
        evaluate(model.model, on: model.loader(try read(path))).accuracy
    }
}

/// zoo/NAME.md: what the model is, what it was trained on, how well it does and how to make it.
enum ModelCard {
    static func text(_ e: ZooManifest.Entry, recipe: PretrainRecipe, history: [EpochRecord]) -> String {
        let minutes = e.wallSeconds / 60
        return """
            # \(e.name)

            \(e.summary).

            | | |
            |---|---|
            | architecture | `\(e.architecture)`, configuration `\(e.configuration.json)` |
            | input | \(e.inputSize.map(String.init).joined(separator: "x")) \(e.channelOrder), mean \(e.mean), std \(e.std) |
            | classes | \(e.classes.joined(separator: ", ")) |
            | training data | \(e.dataset); licence: \(e.license) |
            | test accuracy | \(String(format: "%.2f%%", e.testAccuracy * 100)) on \(e.testImages) images: \(e.testMeasured) |
            | validation accuracy | \(String(format: "%.2f%%", e.validationAccuracy * 100)) (the split that chose epoch \(e.bestEpoch) of \(e.epochsRun)) |
            | file | `\(e.file)`, \(e.bytes) bytes, SHA-256 `\(e.sha256)` |
            | made by | `\(e.command)` (seed \(e.seed)) in \(String(format: "%.1f", minutes)) minutes on \(e.machine), \(e.date) |

            Recipe: \(recipe.options.optimizer.rawValue) at \(recipe.options.learningRate), \(recipe.options.schedule.rawValue) schedule, \
            weight decay \(recipe.options.weightDecay), batch \(recipe.options.batchSize), up to \(recipe.options.epochs) epochs \
            (patience \(recipe.options.patience)), label smoothing \(recipe.options.labelSmoothing), augmentation \
            `\(recipe.options.pipeline)`.

            Use it: `finetune --base \(e.name) --data DIR --freeze N` (the head is replaced for your classes), or from Swift
            `TrainedModel(zooEntry: "\(e.name)")`. Intended for transfer to small image datasets of the same kind
            (\(e.channelOrder == "L" ? "grey images" : "colour drawings and icons")); it knows nothing of photographs.

            """
    }
}
