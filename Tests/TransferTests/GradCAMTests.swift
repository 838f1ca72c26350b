import Engine
import Transfer
import Vision
import XCTest
import Zoo

/// Grad-CAM's default stage and the shape and range of its heat map.
final class GradCAMTests: XCTestCase {
    /// ResNet-18 at 64 px: stage4's maps are 2x2, too coarse to localise, so stage3 (4x4) is the
    /// default; at 128 px stage4 is 4x4 and is chosen.
    func testTheDefaultStageIsTheDeepestWithAtLeastFourPositionsPerSide() throws {
        let small = try TrainedModel(architecture: "resnet18", inputSize: 64, classes: 3)
        XCTAssertEqual(GradCAM.defaultStage(small.model, input: small.preprocessing.inputSize), "stage3")
        let large = try TrainedModel(architecture: "resnet18", inputSize: 128, classes: 3)
        XCTAssertEqual(GradCAM.defaultStage(large.model, input: large.preprocessing.inputSize), "stage4")
        XCTAssertEqual(
            GradCAM.defaultStage(small.model, input: small.preprocessing.inputSize, minimumSide: 1), "stage4")
    }

    /// The heat map has the input's size, values in [0, 1] with a maximum of 1 (normalised),
    /// and explains the top class unless told otherwise.
    func testHeatMapIsNormalisedAtTheInputSizeAndExplainsTheTopClass() throws {
        let trained = try TrainedModel(architecture: "resnet18", inputSize: 32, classes: 4, seed: 3)
        let image = Image.generate(width: 32, height: 32, channels: 3) { y, x, c in Float((x * 3 + y * 5 + c) % 17) / 17
        }
        let p = trained.preprocessing
        let input = Tensor.batch([image], mean: p.mean, std: p.std, channelOrder: p.channelOrder)
        let top = try GradCAM.explain(trained.model, input: input, stage: "stage2")
        let probabilities = trained.probabilities([image])[0]
        XCTAssertEqual(top.classIndex, probabilities.indices.max { probabilities[$0] < probabilities[$1] })
        XCTAssertEqual(top.probability, probabilities[top.classIndex], accuracy: 1e-5)
        XCTAssertEqual([top.heat.width, top.heat.height, top.heat.channels], [32, 32, 1])
        XCTAssertTrue(top.heat.data.allSatisfy { $0 >= 0 && $0 <= 1 })
        if let peak = top.heat.data.max(), peak > 0 { XCTAssertEqual(peak, 1, accuracy: 0.02) }
        let other = try GradCAM.explain(
            trained.model, input: input, stage: "stage2", classIndex: (top.classIndex + 1) % 4)
        XCTAssertEqual(other.classIndex, (top.classIndex + 1) % 4)
        XCTAssertThrowsError(try GradCAM.explain(trained.model, input: input, stage: "nowhere"))
    }

    /// A model that cannot run its later stages from a stage's output (AlexNet) is refused with
    /// that reason, not as "no feature maps".
    func testAModelThatCannotContinueFromAStageSaysSo() throws {
        Random.seed(0)
        let alexnet = AlexNet(AlexNetConfig(classes: 3, input: [64, 64, 3], includeTop: false, pooling: .avg))
        let input = Tensor.zeros([1, 64, 64, 3])
        XCTAssertThrowsError(try GradCAM.explain(alexnet, input: input, stage: "conv1")) { error in
            guard case FeatureError.cannotContinue(from: "conv1", _) = error else { return XCTFail("\(error)") }
            XCTAssertTrue("\(error)".contains("cannot run its later stages"), "\(error)")
        }
    }
}
