import Engine
import Foundation
import Layers
import Optimizers
import Vision
import Zoo

/// A model file from a run (or any Graft weight file) with what it needs to classify
/// images: its preprocessing and class names.
public struct TrainedModel {
    /// The model, built from the file's configuration with its weights loaded.
    public let model: any ZooModel
    /// The file's Graft metadata (architecture, configuration, provenance, …).
    public let metadata: WeightMetadata
    /// How images are prepared for the model: the file's, else the architecture's default.
    public let preprocessing: Preprocessing
    /// The file's class names, or "class i" when it has none.
    public let classNames: [String]

    /// Loads a Graft weight file (strictly: every tensor must fit).
    /// - Throws: `HDF5Error` when the file has no Graft metadata or names more or fewer classes than
    ///   the head has outputs; `WeightLoadError` when the weights do not fit.
    public init(contentsOf path: String) throws {
        let archive = try WeightArchive.read(path)
        guard let metadata = archive.metadata, let configuration = metadata.configuration else {
            throw HDF5Error.unsupported(
                path: path, object: "file", reason: "has no Graft metadata; import it with `finetune import` first")
        }
        model = configuration.build()
        try WeightFile.load(archive, into: model)
        self.metadata = metadata
        preprocessing = try metadata.preprocessing ?? Architectures.entry(metadata.architecture).preprocessing
        let outputs = model.predict(.zeros([1] + preprocessing.inputSize)).shape.last ?? 0
        guard metadata.classNames.isEmpty || metadata.classNames.count == outputs else {
            throw HDF5Error.unsupported(
                path: path, object: "graft_class_names",
                reason: "names \(metadata.classNames.count) classes but the head has \(outputs) outputs")
        }
        classNames = metadata.classNames.isEmpty ? (0..<outputs).map { "class \($0)" } : metadata.classNames
    }

    /// A zoo architecture by name (`finetune zoo list`), freshly initialised from `seed`, at
    /// `inputSize` x `inputSize` pixels where the architecture allows (ResNet, VGG), with
    /// `classes` outputs (default: the architecture's) and its default preprocessing.
    public init(architecture name: String, inputSize: Int? = nil, classes: Int? = nil, seed: UInt64 = 0) throws {
        let entry = try Architectures.entry(name)
        var configuration = entry.configuration(classes)
        if let inputSize { configuration = configuration.sized(to: inputSize) }
        if let problem = configuration.problem {
            throw ZooError.invalidConfiguration(architecture: entry.name, problem: problem)
        }
        Random.seed(seed)
        model = configuration.build()
        var preprocessing = entry.preprocessing
        preprocessing.inputSize = configuration.inputSize
        self.preprocessing = preprocessing
        metadata = WeightMetadata(
            architecture: entry.name, configuration: configuration, preprocessing: preprocessing,
            provenance: #"{"source": "random initialisation", "seed": \#(seed)}"#)
        let outputs = model.predict(.zeros([1] + preprocessing.inputSize)).shape.last ?? 0
        classNames = (0..<outputs).map { "class \($0)" }
    }

    /// Class probabilities for each image (resized to the model's input).
    public func probabilities(_ images: [Image]) -> [[Float]] {
        let (h, w) = (preprocessing.inputSize[0], preprocessing.inputSize[1])
        let batch = Tensor.batch(
            images.map { $0.resized(width: w, height: h) }, mean: preprocessing.mean, std: preprocessing.std,
            channelOrder: preprocessing.channelOrder)
        let p = Kernels.softmax(model.predict(batch), axis: 1)
        let k = p.shape[1]
        return (0..<images.count).map { Array(p.scalars[($0 * k)..<(($0 + 1) * k)]) }
    }

    /// A loader over the images of `source` at `indices` (nil: all) with this model's
    /// preprocessing (no augmentation, in order).
    public func loader(_ source: LabeledImageSource, indices: [Int]? = nil, batchSize: Int = 32) -> BatchLoader {
        BatchLoader(
            source: source, indices: indices, batchSize: batchSize,
            imageSize: (preprocessing.inputSize[0], preprocessing.inputSize[1]),
            mean: preprocessing.mean, std: preprocessing.std, channelOrder: preprocessing.channelOrder, shuffle: false)
    }
}
