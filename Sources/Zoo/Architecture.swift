import Engine
import Foundation
import Layers

/// What every zoo model offers for transfer learning: its stages in order (what
/// `--freeze N` counts), its head, its configuration (stored in weight files) and the
/// names of its layers in HDF5 weight files (keras.applications names where they exist).
public protocol ZooModel: Module {
    /// The top-level stages in order, without the head.
    var stages: [(name: String, module: Module)] { get }
    /// The key of the classification head (nil without the original top).
    var headKey: String? { get }
    /// The configuration that rebuilds this model.
    var configuration: ModelConfiguration { get }
    /// The HDF5 layer name of the module at `key` (a module that owns parameters).
    func layerName(forModuleKey key: String) -> String
    /// Replaces the classification head with a freshly initialised one for `classes`
    /// classes (the configuration follows). Only for models with their original top.
    func replaceHead(classes: Int)
    /// The output of stage `index` (0-based, in `stages` order) for input `x`: what feature
    /// extraction at that stage returns (dense stages include their activation).
    func features(_ x: Variable, throughStage index: Int) -> Variable
    /// The model's output given `h`, the output of stage `index - 1` (index 0: the input):
    /// stages `index...` then the head. `forward(features(x, throughStage: i - 1), fromStage: i)`
    /// equals `forward(x)`; nil for models whose stages do not compose that way. What the
    /// frozen-prefix feature cache trains on.
    func forward(_ h: Variable, fromStage index: Int) -> Variable?
}

extension ZooModel {
    /// Runs `stages` in order up to `index`: the default for models whose stages compose.
    public func sequentialFeatures(_ x: Variable, throughStage index: Int) -> Variable {
        ensure(index >= 0 && index < stages.count, "features: stage \(index) of \(stages.count) (\(stages.map(\.name).joined(separator: ", ")))")
        return stages.prefix(index + 1).reduce(x) { $1.module($0) }
    }
}

extension ZooModel {
    /// Default HDF5 naming: the module key with dots as underscores (`block1.conv1` →
    /// `block1_conv1`).
    public func defaultLayerName(forModuleKey key: String) -> String { key.replacingOccurrences(of: ".", with: "_") }

    /// Freezes the first `count` stages (0 trains everything); `freezeAll()` leaves only the head.
    public func freezeStages(_ count: Int) {
        ensure(count >= 0 && count <= stages.count,
               "freeze \(count): this model has \(stages.count) stages (\(stages.map(\.name).joined(separator: ", "))); use 0...\(stages.count) or 'all'")
        unfreeze()
        for (_, stage) in stages.prefix(count) { stage.freeze() }
    }

    /// Freezes everything but the head (a linear probe).
    public func freezeAllButHead() { freezeStages(stages.count) }
}

/// The input a model expects and how pixels are prepared for it.
public struct Preprocessing: Codable, Equatable, Sendable {
    /// [height, width, channels].
    public var inputSize: [Int]
    /// "RGB", "BGR" or "L".
    public var channelOrder: String
    /// Per-channel mean and std applied to pixels scaled to [0, 1]: `(x - mean) / std`.
    public var mean: [Float]
    /// Per-channel standard deviation, one entry per channel as `mean` (caffe-style BGR uses 1/255).
    public var std: [Float]

    /// Creates preprocessing for `inputSize` ([height, width, channels]) inputs in `channelOrder`,
    /// normalised with `mean` and `std` (one value per channel).
    public init(inputSize: [Int], channelOrder: String, mean: [Float], std: [Float]) {
        self.inputSize = inputSize; self.channelOrder = channelOrder; self.mean = mean; self.std = std
    }

    /// torchvision's ImageNet preprocessing.
    public static func imagenet(_ size: Int = 224) -> Preprocessing {
        Preprocessing(inputSize: [size, size, 3], channelOrder: "RGB", mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])
    }
}
