import Engine
import Foundation
import Layers
import Vision
import Zoo

/// zoo/zoo.json: one entry per pretrained model, with everything needed to trust and use it.
public struct ZooManifest: Codable, Sendable {
    public struct Slice: Codable, Equatable, Sendable {
        /// The stored images (zoo/NAME-test.h5: uint8 `images` NHWC, int32 `labels`).
        public var file: String
        public var images: Int
        /// The model's accuracy on them when it was made; the zoo's test checks it.
        public var accuracy: Double
    }

    public struct Entry: Codable, Equatable, Sendable {
        public var name: String
        public var file: String
        public var summary: String
        public var architecture: String
        public var configuration: ModelConfiguration
        public var dataset: String
        public var classes: [String]
        public var license: String
        public var inputSize: [Int]
        public var channelOrder: String
        public var mean: [Float]
        public var std: [Float]
        public var testAccuracy: Double
        public var testImages: Int
        public var testMeasured: String
        public var validationAccuracy: Double
        public var bestEpoch: Int
        public var epochsRun: Int
        public var slice: Slice
        public var sha256: String
        public var bytes: Int
        public var command: String
        public var seed: UInt64
        public var wallSeconds: Double
        public var machine: String
        public var date: String
        public var runFolder: String
    }

    public var entries: [Entry]

    public init(entries: [Entry]) { self.entries = entries }

    public static func read(_ zoo: String) throws -> ZooManifest {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(ZooManifest.self, from: Data(contentsOf: URL(fileURLWithPath: zoo + "/zoo.json")))
    }

    public func write(to zoo: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        try AtomicFile.write(try encoder.encode(self), to: zoo + "/zoo.json")
    }

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
