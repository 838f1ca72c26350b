import Engine
import Foundation
import Layers
import Optimizers
import Vision
import Zoo

/// Features of a model's stage for a batch of images: the library call behind
/// `finetune extract`. Feature maps are pooled to vectors (global average by default) so
/// they can feed a linear classifier; `pooling: nil` keeps the maps.
public struct FeatureExtractor {
    /// The model whose stage output is extracted (put in inference mode on each call).
    public let model: any ZooModel
    /// The index of the stage in `model.stages` (0-based).
    public let stageIndex: Int
    /// How NHWC feature maps are reduced to [n, channels] vectors; nil keeps the maps. Dense stages
    /// are returned as they are.
    public let pooling: GlobalPooling?

    /// An extractor of the stage named `stage` (`stage3`, `block4`, `fc1`, …), average-pooled by default.
    /// - Throws: `FeatureError.unknownStage` when the model has no such stage.
    public init(model: any ZooModel, stage: String, pooling: GlobalPooling? = .avg) throws {
        guard let index = model.stages.firstIndex(where: { $0.name == stage }) else {
            throw FeatureError.unknownStage(stage, known: model.stages.map(\.name))
        }
        self.model = model
        stageIndex = index
        self.pooling = pooling
    }

    /// Features of an NHWC batch (inference mode, no gradients).
    public func features(_ images: Tensor) -> Tensor {
        model.eval()
        return Autodiff.withoutGradients {
            let h = model.features(Variable(images), throughStage: stageIndex)
            guard h.shape.count == 4, let pooling else { return h.value }
            return (pooling == .avg ? globalAvgPool(h) : globalMaxPool(h)).value
        }
    }

    /// Features, labels and source indices of every image of `loader`, in its order; images
    /// that fail to decode are left out (see `loader.failures`), so row i is image `indices[i]`.
    public func extract(_ loader: BatchLoader) -> (features: Tensor, labels: [Int], indices: [Int]) {
        var parts: [Tensor] = []
        var labels: [Int] = []
        var indices: [Int] = []
        for batch in loader.batches(epoch: 0) {
            parts.append(features(batch.images))
            labels += batch.labels
            indices += batch.indices
        }
        return (parts.isEmpty ? .zeros([0]) : Tensor.concatenate(parts), labels, indices)
    }
}

/// Why features could not be taken from a stage.
public enum FeatureError: Error, CustomStringConvertible {
    /// The model has no stage of this name; `known` lists its stages in order.
    case unknownStage(String, known: [String])
    /// The stage outputs vectors, not NHWC feature maps (a dense stage), where maps are needed.
    case notSpatial(String)
    /// The model cannot run its later stages from this stage's output (AlexNet; VGG past its
    /// first dense layer), which Grad-CAM needs.
    case cannotContinue(from: String, architecture: String)
    /// A one-line message naming the stage and what to choose instead.
    public var description: String {
        switch self {
        case let .unknownStage(stage, known): return "no stage '\(stage)'; this model's stages are \(known.joined(separator: ", "))"
        case let .notSpatial(stage): return "stage '\(stage)' has no feature maps (a dense stage); choose a convolutional stage with --layer"
        case let .cannotContinue(stage, architecture):
            return "\(architecture) cannot run its later stages from stage '\(stage)''s output, so Grad-CAM cannot explain it there; "
                + "use a ResNet or VGG, or another --layer"
        }
    }
}
