import Engine
import Layers
import XCTest

/// A small network with nested children, for the tree tests.
final class TinyNet: Module {
    let stem = Sequential(Conv2D(3, 4, kernel: 3, padding: .same), BatchNorm(4), ReLU())
    let blocks: [Module] = [Residual(Sequential(Conv2D(4, 4, kernel: 3, padding: .same), BatchNorm(4))), Dropout(0.5)]
    let pool = GlobalAvgPool()
    let head = Dense(4, 3)

    override func forward(_ x: Variable) -> Variable {
        head(pool(blocks.reduce(stem(x)) { $1($0) }))
    }
}

final class ModuleTests: XCTestCase {
    func testDottedKeysForParametersAndBuffers() {
        let net = TinyNet()
        XCTAssertEqual(net.namedParameters.map(\.key), [
            "stem.0.weight", "stem.0.bias", "stem.1.gamma", "stem.1.beta",
            "blocks.0.body.0.weight", "blocks.0.body.0.bias", "blocks.0.body.1.gamma", "blocks.0.body.1.beta",
            "head.weight", "head.bias",
        ])
        XCTAssertEqual(net.namedBuffers.map(\.key), [
            "stem.1.runningMean", "stem.1.runningVariance", "blocks.0.body.1.runningMean", "blocks.0.body.1.runningVariance",
        ])
        XCTAssertTrue(net.module(at: "blocks.0.body.1") is BatchNorm)
        XCTAssertEqual(net.parameterCount, (3 * 3 * 3 * 4 + 4) + 8 + (3 * 3 * 4 * 4 + 4) + 8 + (4 * 3 + 3))
    }

    func testModeIsInferenceByDefaultAndSetRecursively() {
        let net = TinyNet()
        XCTAssertTrue(net.namedModules.allSatisfy { !$0.module.isTraining })
        net.train()
        XCTAssertTrue(net.namedModules.allSatisfy { $0.module.isTraining })
        net.eval()
        XCTAssertFalse(net.module(at: "blocks.1")!.isTraining)
    }

    func testFreezingByModuleAndByPattern() {
        let net = TinyNet()
        net.stem.freeze()
        XCTAssertEqual(net.trainableParameters.map(\.key).filter { $0.hasPrefix("stem") }, [])
        XCTAssertTrue(net.stem.isFrozen)
        let changed = net.freeze(matching: "blocks.*.gamma")
        XCTAssertEqual(changed, ["blocks.0.body.1.gamma"])
        XCTAssertEqual(net.freeze(matching: "head", false), ["head.weight", "head.bias"])
        net.unfreeze()
        XCTAssertEqual(net.trainableParameters.count, net.namedParameters.count)
        XCTAssertEqual(net.freeze(matching: "stem.0"), ["stem.0.weight", "stem.0.bias"], "a key prefix matches whole components only")
    }

    func testDescriptionShowsShapesCountsAndFrozenParts() {
        let net = TinyNet()
        net.stem.freeze()
        let text = net.description
        XCTAssertTrue(text.contains("(stem) Sequential  [120 params, frozen]"), text)
        XCTAssertTrue(text.contains("Conv2D(3→4, 3x3, same)  weight [3, 3, 3, 4], bias [4]"), text)
        XCTAssertTrue(text.contains("(head) Dense(4→3)  weight [4, 3], bias [3]  [15 params]"), text)
        XCTAssertTrue(text.hasSuffix("Total: 291 parameters, 171 trainable"), text)
    }

    func testFrozenParametersGetNoGradientAndNoBackwardWork() {
        Random.seed(1)
        let net = TinyNet()
        net.train()
        net.stem.freeze()
        var rng = RandomGenerator(seed: 2)
        let x = Variable(Tensor.randomNormal([2, 6, 6, 3], using: &rng))
        KernelStats.reset()
        try! softmaxCrossEntropy(logits: net(x), labels: [0, 2]).backward()
        XCTAssertNil(net.stem.namedParameters[0].parameter.grad)
        XCTAssertNotNil(net.head.weight.grad)
        XCTAssertEqual(KernelStats.snapshot["conv2d.backward_weights"], 1, "only the block's conv computes weight gradients")
        XCTAssertNil(KernelStats.snapshot["conv2d.backward_data"], "nothing below the first trainable conv needs input gradients")
    }

    func testSameSeedSameWeights() {
        Random.seed(42)
        let a = TinyNet()
        Random.seed(42)
        let b = TinyNet()
        Random.seed(43)
        let c = TinyNet()
        XCTAssertEqual(a.head.weight.value, b.head.weight.value)
        XCTAssertEqual(a.stem.namedParameters[0].parameter.value, b.stem.namedParameters[0].parameter.value)
        XCTAssertNotEqual(a.head.weight.value, c.head.weight.value)
    }
}

final class BatchNormLayerTests: XCTestCase {
    func testTrainingUpdatesRunningStatisticsAndInferenceUsesThem() {
        let bn = BatchNorm(2, momentum: 0.5)
        let x = Variable(Tensor(shape: [4, 2], scalars: [1, 10, 3, 10, 5, 14, 7, 14]))
        bn.train()
        let y = bn(x)
        // Batch mean [4, 12]; biased var [5, 4] -> unbiased [6.667, 5.333].
        XCTAssertEqual(bn.runningMean.value.scalars, [2, 6], "0.5 · 0 + 0.5 · batch mean")
        XCTAssertEqual(bn.runningVariance.value.scalars[0], 0.5 + 0.5 * 20 / 3, accuracy: 1e-5)
        XCTAssertEqual(y.value.mean(axes: [0]).scalars[0], 0, accuracy: 1e-5)
        bn.eval()
        let before = bn.runningMean.value
        let z = bn(x)
        XCTAssertEqual(bn.runningMean.value, before, "inference does not update the statistics")
        XCTAssertEqual(z.value[0, 0], (1 - 2) / (bn.runningVariance.value.scalars[0] + 1e-5).squareRoot(), accuracy: 1e-5)
    }

    func testFrozenBatchNormRunsInInferenceModeByDefault() {
        let bn = BatchNorm(2)
        bn.freeze()
        bn.train()
        let x = Variable(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]))
        _ = bn(x)
        XCTAssertEqual(bn.runningMean.value.scalars, [0, 0], "a frozen BatchNorm keeps its statistics")
        bn.frozenBehaviour = .batchStatistics
        _ = bn(x)
        XCTAssertEqual(bn.runningMean.value.scalars, [0.2, 0.3], "PyTorch's behaviour, on request")
    }
}

final class DropoutLayerTests: XCTestCase {
    /// Inverted dropout: in training about `rate` of the elements are zeroed (5 standard
    /// errors on 100,000 draws: ±0.0079) and survivors scaled by 1/(1 - rate); in inference
    /// it is the identity; the same global seed gives the same mask.
    func testTrainingMaskStatisticsAndInferenceIdentity() {
        Random.seed(5)
        let layer = Dropout(0.25)
        let x = Variable(Tensor.ones([100_000]))
        XCTAssertEqual(layer(x).value, x.value, "inference mode is the identity")
        layer.train()
        let y = layer(x).value
        let zeros = Float(y.scalars.filter { $0 == 0 }.count) / Float(y.count)
        XCTAssertEqual(zeros, 0.25, accuracy: 0.0079)
        XCTAssertTrue(y.scalars.allSatisfy { $0 == 0 || abs($0 - 1 / 0.75) < 1e-6 })
        Random.seed(5)
        let again = Dropout(0.25)
        again.train()
        XCTAssertEqual(again(x).value, y, "same seed, same mask")
    }
}

final class DropBlockLayerTests: XCTestCase {
    /// DropBlock on a map of ones: in inference the identity; in training the zeros come in
    /// whole 3x3 squares of one sample and channel, about `rate` of the elements (0.1: the
    /// draws give ~90 blocks, so ±0.04 is over 3 standard deviations), the output's mean is 1
    /// (survivors scaled by count / kept); the same seed gives the same mask and a reseed
    /// another one.
    func testBlocksOfZerosTheirShareAndTheScale() {
        Random.seed(3)
        let layer = DropBlock(rate: 0.1, blockSize: 3)
        let (n, h, w, c) = (4, 16, 16, 8)
        let x = Variable(Tensor.ones([n, h, w, c]))
        XCTAssertEqual(layer(x).value, x.value, "inference mode is the identity")
        layer.train()
        let y = layer(x).value.scalars
        let at = { (s: Int, row: Int, column: Int, channel: Int) in ((s * h + row) * w + column) * c + channel }
        let zeros = y.filter { $0 == 0 }.count
        XCTAssertEqual(Double(zeros) / Double(y.count), 0.1, accuracy: 0.04)
        XCTAssertEqual(Double(y.reduce(0, +)) / Double(y.count), 1, accuracy: 1e-4, "scaled by count / kept")
        for s in 0..<n {
            for row in 0..<h {
                for column in 0..<w {
                    for channel in 0..<c where y[at(s, row, column, channel)] == 0 {
                        // Some 3x3 square inside the map holds this zero and is all zeros.
                        let inSquare = (max(0, row - 2)...min(row, h - 3)).contains { top in
                            (max(0, column - 2)...min(column, w - 3)).contains { left in
                                (0..<3).allSatisfy { dy in
                                    (0..<3).allSatisfy { dx in y[at(s, top + dy, left + dx, channel)] == 0 }
                                }
                            }
                        }
                        XCTAssertTrue(inSquare, "zero at \(s), \(row), \(column), \(channel) is not in a 3x3 block")
                    }
                }
            }
        }
        Random.seed(3)
        let again = DropBlock(rate: 0.1, blockSize: 3)
        again.train()
        XCTAssertEqual(again(x).value.scalars, y, "same seed, same mask")
        again.reseed(99)
        XCTAssertNotEqual(again(x).value.scalars, y, "another seed, another mask")
    }
}
