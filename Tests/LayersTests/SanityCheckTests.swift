import Engine
import Foundation
import Layers
import XCTest

/// The lecture notes' "recipe for training neural nets" sanity checks.
final class SanityCheckTests: XCTestCase {
    /// With small weights the logits are near zero, the softmax near uniform, and the
    /// cross-entropy of a 10-class classifier near ln(10) ≈ 2.3026 (tolerance 0.05).
    func testInitialLossIsLogOfClassCount() throws {
        Random.seed(0)
        let model = Sequential(Dense(20, 32, kernelInitializer: .normal(std: 0.01)), ReLU(),
                               Dense(32, 10, kernelInitializer: .normal(std: 0.01)))
        var rng = RandomGenerator(seed: 1)
        let x = Variable(Tensor.randomNormal([64, 20], using: &rng))
        let labels = (0..<64).map { $0 % 10 }
        let loss = try softmaxCrossEntropy(logits: model(x), labels: labels).value.scalar
        XCTAssertEqual(loss, Float(log(10.0)), accuracy: 0.05)
    }

    /// A small network overfits 20 random examples to 100% training accuracy.
    func testSmallNetworkOverfitsTwentyExamples() throws {
        Random.seed(3)
        let model = Sequential(Dense(8, 64, kernelInitializer: .heNormal()), ReLU(), Dense(64, 4))
        var rng = RandomGenerator(seed: 4)
        let x = Tensor.randomNormal([20, 8], using: &rng)
        let labels = (0..<20).map { _ in Int(rng.next() % 4) }
        model.train()
        for _ in 0..<300 {
            for (_, p) in model.namedParameters { p.grad = nil }
            try softmaxCrossEntropy(logits: model(Variable(x)), labels: labels).backward()
            for (_, p) in model.namedParameters { p.value.add(p.grad!, scale: -0.1) }
        }
        let predictions = model.predict(x).argmax(axis: 1)
        XCTAssertEqual(predictions, labels, "the network should memorise all 20 labels")
    }
}
