import Engine
import Layers
import XCTest
import Zoo

/// Inference fusion (`Fusion`): BatchNorm folded into the convolution before it, the ReLU and
/// a residual block's add as oneDNN post-ops. It must give what the separate layers give, to
/// float rounding, and step aside wherever a gradient is wanted.
final class FusionTests: XCTestCase {
    override func tearDown() {
        Fusion.isEnabled = true
        super.tearDown()
    }

    /// BatchNorm statistics and affine parameters far from the identity, so a wrong fold shows.
    private func perturbNorms(_ model: Module, seed: UInt64) {
        var rng = RandomGenerator(seed: seed)
        for (_, module) in model.namedModules {
            guard let bn = module as? BatchNorm else { continue }
            let c = [bn.channels]
            bn.gamma.value = .randomUniform(c, low: 0.5, high: 1.5, using: &rng)
            bn.beta.value = .randomNormal(c, std: 0.2, using: &rng)
            bn.runningMean.value = .randomNormal(c, std: 0.3, using: &rng)
            bn.runningVariance.value = .randomUniform(c, low: 0.5, high: 2, using: &rng)
        }
    }

    /// The largest difference between the fused and the unfused prediction, relative to the
    /// output's largest magnitude.
    private func fusedError(_ model: Module, _ x: Tensor) -> (error: Float, fusedConvolutions: Int) {
        Fusion.isEnabled = false
        let reference = model.predict(x)
        Fusion.isEnabled = true
        KernelStats.reset()
        let fused = model.predict(x)
        let normalisations = KernelStats.snapshot["batchNorm.forward", default: 0]
        XCTAssertEqual(normalisations, 0, "every BatchNorm folds into its convolution")
        let scale = reference.scalars.map(abs).max()!
        let error = zip(reference.scalars, fused.scalars).map { abs($0 - $1) }.max()! / scale
        return (error, KernelStats.snapshot["conv2d.forward", default: 0])
    }

    /// ResNet-18 (basic blocks, projections, the 7x7 stem; at 32 px stage 4 runs on 1x1 maps,
    /// the patch-product path) and ResNet-50 (bottlenecks): within 1e-5 of the unfused layers.
    func testFusedResNetsMatchTheSeparateLayers() throws {
        for (depth, seed) in [(18, 1), (50, 2)] as [(Int, UInt64)] {
            Random.seed(seed)
            let model = ResNet(.torchvision(depth, classes: 5, input: [32, 32, 3]))
            perturbNorms(model, seed: seed)
            var rng = RandomGenerator(seed: 9)
            let (error, convolutions) = fusedError(model, .randomNormal([2, 32, 32, 3], using: &rng))
            XCTAssertLessThan(error, 1e-5, "ResNet-\(depth)")
            XCTAssertGreaterThan(convolutions, 0)
        }
    }

    /// VGG with BatchNorm (conv + BN + ReLU units in a Sequential) and without (conv + ReLU).
    func testFusedVGGMatchesTheSeparateLayers() throws {
        for batchNorm in [true, false] {
            Random.seed(3)
            let model = VGG(
                VGGConfig(
                    blocks: [[8], [16, 16]], batchNorm: batchNorm, fc: [], classes: 4, input: [16, 16, 3],
                    includeTop: true, pooling: .avg))
            perturbNorms(model, seed: 4)
            var rng = RandomGenerator(seed: 5)
            let (error, _) = fusedError(model, .randomNormal([3, 16, 16, 3], using: &rng))
            XCTAssertLessThan(error, 1e-5, "batchNorm: \(batchNorm)")
        }
    }

    /// The folded kernel is cached, and a change to any of its sources (an in-place weight
    /// update, as the optimisers make; new running statistics) is seen at the next call.
    func testTheFoldedKernelFollowsItsSources() throws {
        Random.seed(6)
        let model = ResNet(.cifar(8, classes: 3, input: [8, 8, 3]))
        perturbNorms(model, seed: 7)
        var rng = RandomGenerator(seed: 8)
        let x = Tensor.randomNormal([2, 8, 8, 3], using: &rng)
        _ = model.predict(x)
        let conv = try XCTUnwrap(model.module(at: "stage1.block1.conv1") as? Conv2D)
        let bn = try XCTUnwrap(model.module(at: "stage1.block1.bn1") as? BatchNorm)
        conv.weight.variable.value.withUnsafeMutableBufferPointer { w in
            for i in w.indices { w[i] *= -1.5 }
        }
        XCTAssertLessThan(fusedError(model, x).error, 1e-5, "after an in-place weight update")
        bn.runningVariance.value = .full([bn.channels], 4)
        XCTAssertLessThan(fusedError(model, x).error, 1e-5, "after new running statistics")
    }

    /// Training with trainable layers records the graph and gets gradients: no fusion there.
    /// A frozen prefix whose BatchNorm runs on running statistics is fused while the rest trains.
    func testFusionStepsAsideWhereAGradientIsWanted() throws {
        Random.seed(10)
        let model = ResNet(.cifar(8, classes: 3, input: [8, 8, 3]))
        model.train()
        var rng = RandomGenerator(seed: 11)
        let x = Variable(.randomNormal([4, 8, 8, 3], using: &rng))
        KernelStats.reset()
        model(x).sum().backward()
        XCTAssertGreaterThan(KernelStats.snapshot["batchNorm.forward", default: 0], 0, "a trainable model is not fused")
        XCTAssertNotNil(model.stem["conv"].flatMap { ($0 as? Conv2D)?.weight.grad })

        let norms = model.namedModules.filter { $0.module is BatchNorm }.count
        XCTAssertEqual(KernelStats.snapshot["batchNorm.forward", default: 0], norms)
        model.stem.freeze()
        let frozenStem = try XCTUnwrap(model.stem["conv"] as? Conv2D)
        frozenStem.weight.grad = nil
        KernelStats.reset()
        model(x).sum().backward()
        XCTAssertEqual(
            KernelStats.snapshot["batchNorm.forward", default: 0], norms - 1, "only the frozen stem's BatchNorm folds")
        XCTAssertNil(frozenStem.weight.grad)
    }
}

/// The kernels oneDNN wants in a blocked layout are reordered once per weight version and
/// reused by later calls, and a changed weight is reordered again (never a stale copy).
final class WeightLayoutTests: XCTestCase {
    override func tearDown() {
        Fusion.isEnabled = true
        super.tearDown()
    }

    func testReorderedKernelsAreMadeOnceAndFollowTheWeight() throws {
        Random.seed(12)
        let model = VGG(
            VGGConfig(
                blocks: [[32], [64]], batchNorm: false, fc: [], classes: 4, input: [8, 8, 3],
                includeTop: true, pooling: .avg))
        let conv = try XCTUnwrap(model.namedModules.compactMap { $0.module as? Conv2D }.last)
        var rng = RandomGenerator(seed: 13)
        let x = Tensor.randomNormal([2, 8, 8, 3], using: &rng)
        let first = model.predict(x)
        let layouts = conv.inferenceLayouts
        XCTAssertEqual(layouts.count, 1, "the 32 -> 64 kernel is kept in the layout its convolution wants")
        XCTAssertEqual(model.predict(x), first, "the kept copy gives the same output, bit for bit")
        XCTAssertTrue(conv.inferenceLayouts === layouts, "and is reused while the weight is unchanged")
        XCTAssertEqual(layouts.count, 1)
        let single = Tensor(shape: [1, 8, 8, 3], scalars: Array(x.scalars.prefix(8 * 8 * 3)))
        _ = model.predict(single)
        XCTAssertEqual(layouts.count, 1, "another batch size wanting the same layout shares the copy")

        conv.weight.variable.value.withUnsafeMutableBufferPointer { w in
            for i in w.indices { w[i] *= -1.5 }
        }
        XCTAssertFalse(conv.inferenceLayouts === layouts, "an in-place update makes a new cache")
        let fused = model.predict(x)
        Fusion.isEnabled = false
        let reference = model.predict(x)
        let scale = reference.scalars.map(abs).max()!
        let error = zip(reference.scalars, fused.scalars).map { abs($0 - $1) }.max()! / scale
        XCTAssertLessThan(error, 1e-5, "the output follows the updated weight (relative to its largest value)")
        XCTAssertNotEqual(fused, first)
    }
}
