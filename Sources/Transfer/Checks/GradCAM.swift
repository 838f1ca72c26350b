import Engine
import Foundation
import Layers
import Vision
import Zoo

/// Grad-CAM (Selvaraju et al., 2017): where in the image the evidence for a class lies.
/// The class score's gradient with respect to a stage's feature maps A (NHWC), averaged over
/// the positions, weighs the channels: `cam = ReLU(Σ_k α_k A_k)`, `α_k = mean_ij ∂y_c/∂A_ij,k`;
/// normalised to [0, 1] and resized to the input. Through the library's autodiff.
public enum GradCAM {
    /// A Grad-CAM explanation: the heat map and the class it explains.
    public struct Result {
        /// The heat map at the image's model input size, values in [0, 1], row-major.
        public var heat: Image
        /// The class explained: the top class unless one was asked for.
        public var classIndex: Int
        /// The model's softmax probability for that class.
        public var probability: Float
        /// The stage whose feature maps were weighed.
        public var stage: String
    }

    /// The stage Grad-CAM explains by default: the deepest stage whose feature maps have at
    /// least `minimumSide` positions per side (ResNet-18 at 224 px: stage4, 7x7; at 64 px:
    /// stage3, 4x4, because stage4's 2x2 maps cannot say where in the image anything is), else
    /// the deepest stage with a spatial output at all. Nil when no stage is spatial.
    public static func defaultStage(_ model: any ZooModel, input: [Int], minimumSide: Int = 4) -> String? {
        Autodiff.withoutGradients {
            let sides: [Int?] = model.stages.indices.map { i in
                let shape = model.features(Variable(.zeros([1] + input)), throughStage: i).shape
                return shape.count == 4 ? min(shape[1], shape[2]) : nil
            }
            let spatial = sides.indices.filter { sides[$0] != nil }
            let chosen = spatial.last { sides[$0]! >= minimumSide } ?? spatial.last
            return chosen.map { model.stages[$0].name }
        }
    }

    /// Grad-CAM of the top class (or `classIndex`) for one preprocessed image `[1, h, w, c]`.
    public static func explain(_ model: any ZooModel, input: Tensor, stage: String, classIndex: Int? = nil) throws -> Result {
        guard let index = model.stages.firstIndex(where: { $0.name == stage }) else {
            throw FeatureError.unknownStage(stage, known: model.stages.map(\.name))
        }
        model.eval()
        let maps = Autodiff.withoutGradients { model.features(Variable(input), throughStage: index).value }
        guard maps.rank == 4 else { throw FeatureError.notSpatial(stage) }
        let a = Variable(maps, requiresGrad: true)
        guard let logits = model.forward(a, fromStage: index + 1) else {
            throw FeatureError.cannotContinue(from: stage, architecture: String(describing: type(of: model)))
        }
        let probabilities = Kernels.softmax(logits.value, axis: 1).scalars
        let target = classIndex ?? probabilities.indices.max { probabilities[$0] < probabilities[$1] }!
        var onehot = Tensor.zeros(logits.shape)
        onehot[0, target] = 1
        (logits * Variable(onehot)).sum().backward()
        let (h, w, k) = (maps.shape[1], maps.shape[2], maps.shape[3])
        let gradient = a.grad ?? .zeros(maps.shape)
        let alpha = gradient.mean(axes: [0, 1, 2])  // [k]
        var cam = [Float](repeating: 0, count: h * w)
        for p in 0..<(h * w) {
            var v: Float = 0
            for c in 0..<k { v += alpha.scalars[c] * maps.scalars[p * k + c] }
            cam[p] = max(v, 0)
        }
        let top = cam.max() ?? 0
        if top > 0 { cam = cam.map { $0 / top } }
        let heat = Image(width: w, height: h, channels: 1, data: cam).resized(width: input.shape[2], height: input.shape[1])
        return Result(heat: heat.clamped(), classIndex: target, probability: probabilities[target], stage: stage)
    }
}
