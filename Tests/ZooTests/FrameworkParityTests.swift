import Engine
import Foundation
import Layers
import TestSupport
import XCTest
import Zoo

/// Graft's architectures against real Keras and PyTorch models with random weights
/// (scripts/fixtures/zoo_keras.py, scripts/fixtures/zoo_torch.py): each fixture's weight
/// file loads strictly, and the logits for the fixture's input match to rtol 1e-4
/// (atol 1e-5). PyTorch files went through scripts/convert_torch.py.
final class FrameworkParityTests: XCTestCase {
    /// Loads `weights` into the architecture of `fixture` and compares logits.
    private func check(_ fixture: String, weights: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let root = try Fixtures.json(fixture)
        let architecture = try JSONSerialization.data(withJSONObject: root["architecture"]!)
        let configuration = try JSONDecoder().decode(ModelConfiguration.self, from: architecture)
        Random.seed(0)
        let model = configuration.build()
        let path = Fixtures.directory(besides: #filePath).appendingPathComponent(weights).path
        let report = try WeightFile.load(path, into: model)
        XCTAssertEqual(report.problems.count, 0, report.description, file: file, line: line)
        XCTAssertGreaterThan(report.loaded, 0, file: file, line: line)
        let logits = model.predict(Fixtures.tensor(root["input"]!))
        assertClose(logits, Fixtures.tensor(root["logits"]!), rtol: 1e-4, atol: 1e-5, "\(weights) logits", file: file, line: line)
    }

    func testLeNet5MatchesPyTorch() throws { try check("lenet5_torch.json", weights: "lenet5_torch.h5") }

    func testResNet18MatchesTorchvision() throws { try check("resnet18_mini_torch.json", weights: "resnet18_mini_torch.h5") }

    func testVGGWithoutBatchNormMatchesKeras2WeightsFile() throws { try check("vgg_mini.json", weights: "vgg_mini.h5") }

    func testVGGLoadsFromAKeras2FullModelFile() throws { try check("vgg_mini.json", weights: "vgg_mini_full.h5") }

    func testVGGLoadsFromAKeras3WeightsFile() throws { try check("vgg_mini.json", weights: "vgg_mini.weights.h5") }

    func testVGGWithBatchNormMatchesKeras() throws { try check("vgg_mini_bn.json", weights: "vgg_mini_bn.h5") }

    /// keras.applications layer names, stride on the first 1x1 convolution.
    func testBottleneckResNetMatchesKeras() throws { try check("resnet_mini_keras.json", weights: "resnet_mini_keras.h5") }

    /// Stride on the 3x3 with 'same' padding: the extra pixel goes bottom/right.
    func testBottleneckResNetWithSameStride2MatchesKeras() throws {
        try check("resnet_mini_keras_v15.json", weights: "resnet_mini_keras_v15.h5")
    }
}
