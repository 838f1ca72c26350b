import Engine
import Layers
@testable import Optimizers
import XCTest

final class OptimizerBehaviourTests: XCTestCase {
    private func model() -> Sequential {
        Random.seed(9)
        return Sequential(Dense(4, 8), BatchNorm(8), ReLU(), Dense(8, 3))
    }

    private func trainStep(_ net: Sequential, _ optimizer: any GradientOptimizer) throws {
        var rng = RandomGenerator(seed: 5)
        let x = Variable(Tensor.randomNormal([6, 4], using: &rng))
        optimizer.zeroGrad()
        var loss = try softmaxCrossEntropy(logits: net(x), labels: [0, 1, 2, 0, 1, 2])
        if let penalty = optimizer.penalty() { loss = loss + penalty }
        loss.backward()
        optimizer.step()
    }

    func testFrozenParametersAreNotUpdatedAndBuffersNeverReachTheOptimizer() throws {
        let net = model()
        net.train()
        let optimizer = Optimizer(SGD(momentum: 0.9), parameters: net.namedParameters, learningRate: 0.1)
        XCTAssertFalse(optimizer.groups[0].parameters.contains { $0.key.contains("running") }, "buffers are not parameters")
        net.layers[0].freeze()
        let frozen = (net.layers[0] as! Dense).weight.value
        let head = (net.layers[3] as! Dense).weight.value
        let meanBefore = (net.layers[1] as! BatchNorm).runningMean.value
        try trainStep(net, optimizer)
        XCTAssertEqual((net.layers[0] as! Dense).weight.value, frozen, "a frozen layer keeps its weights")
        XCTAssertNotEqual((net.layers[3] as! Dense).weight.value, head)
        XCTAssertNotEqual((net.layers[1] as! BatchNorm).runningMean.value, meanBefore, "statistics move by the forward pass only")
        XCTAssertEqual(Optimizer(Adam(), parameters: net.trainableParameters, learningRate: 1).groups[0].parameters.count, 4,
                       "trainableParameters leaves the frozen layer out")
    }

    func testParameterGroupsHaveTheirOwnLearningRates() throws {
        let net = model()
        let backbone = net.namedParameters.filter { $0.key.hasPrefix("0.") }, head = net.namedParameters.filter { $0.key.hasPrefix("3.") }
        let optimizer = Optimizer(SGD(), groups: [ParameterGroup(backbone, learningRate: 0), ParameterGroup(head, learningRate: 0.5)])
        let before = (net.layers[0] as! Dense).weight.value
        try trainStep(net, optimizer)
        XCTAssertEqual((net.layers[0] as! Dense).weight.value, before, "learning rate 0 leaves the backbone alone")
    }

    func testStateSaveAndRestoreContinuesExactly() throws {
        let a = model(), b = model()
        let optA = Optimizer(Adam(), parameters: a.namedParameters, learningRate: 0.01)
        let optB = Optimizer(Adam(), parameters: b.namedParameters, learningRate: 0.01)
        for _ in 0..<3 { try trainStep(a, optA) }
        // b catches up by loading a's weights and optimiser state, then both take two steps.
        for ((_, pa), (_, pb)) in zip(a.namedParameters, b.namedParameters) { pb.value = pa.value }
        for ((_, ba), (_, bb)) in zip(a.namedBuffers, b.namedBuffers) { bb.value = ba.value }
        try optB.restoreState(try optA.stateData())
        XCTAssertEqual(optB.stepCount, 3)
        for _ in 0..<2 { try trainStep(a, optA); try trainStep(b, optB) }
        XCTAssertEqual((a.layers[3] as! Dense).weight.value, (b.layers[3] as! Dense).weight.value)
        XCTAssertThrowsError(try Optimizer(Adam(), parameters: [(key: "other", parameter: Parameter(.zeros([1])))], learningRate: 1)
            .restoreState(try optA.stateData())) { error in
            XCTAssertTrue("\(error)".contains("does not hold"), "\(error)")
        }
        XCTAssertThrowsError(try Optimizer(SGD(), parameters: a.namedParameters, learningRate: 1).restoreState(try optA.stateData())) { error in
            XCTAssertTrue("\(error)".contains("saved by Adam"), "\(error)")
        }
        // A replaced head (same key, another class count) is refused before anything changes.
        let c = Sequential(Dense(4, 8), BatchNorm(8), ReLU(), Dense(8, 5))
        XCTAssertThrowsError(try Optimizer(Adam(), parameters: c.namedParameters, learningRate: 0.01).restoreState(try optA.stateData())) { error in
            XCTAssertTrue("\(error)".contains("3.bias has shape [3] but the parameter is [5]"), "\(error)")
        }
    }

    /// The notes' check: turning up L2 raises the (penalised) loss.
    func testTurningUpL2RaisesTheLoss() throws {
        let net = model()
        var rng = RandomGenerator(seed: 1)
        let x = Variable(Tensor.randomNormal([6, 4], using: &rng))
        let data = try softmaxCrossEntropy(logits: net(x), labels: [0, 1, 2, 0, 1, 2]).value.scalar
        var previous = data
        for strength: Float in [1e-3, 1e-2, 1e-1] {
            let penalty = Regularizer.l2(strength).penalty(net.namedParameters.map(\.parameter))!.value.scalar
            XCTAssertGreaterThan(data + penalty, previous)
            previous = data + penalty
        }
        let l1 = Regularizer.l1(0.5).penalty([Parameter(Tensor([1, -2]))])!.value.scalar
        XCTAssertEqual(l1, 1.5)
        let elastic = Regularizer.elasticNet(l1: 1, l2: 1).penalty([Parameter(Tensor([1, -2]))])!.value.scalar
        XCTAssertEqual(elastic, 3 + 5)
    }

    func testInverseTimeDecayAndWarmupInFrontOfCosine() {
        XCTAssertEqual(InverseTimeDecay(rate: 0.5).factor(at: 2), 0.5)
        let s = LinearWarmup(steps: 4, start: 0, then: CosineDecay(period: 10))
        XCTAssertEqual(s.factor(at: 0), 0)
        XCTAssertEqual(s.factor(at: 2), 0.5)
        XCTAssertEqual(s.factor(at: 4), 1)
        XCTAssertEqual(s.factor(at: 14), 0, accuracy: 1e-7)
    }

    /// SGD's fused single pass is bit-identical to the three-pass form it replaced (weight decay,
    /// momentum buffer, update), for every combination of its settings, over several steps
    /// and a tensor large enough to be split over threads.
    func testFusedSGDIsBitIdenticalToTheThreePassForm() {
        var rng = RandomGenerator(seed: 3)
        let start = Tensor.randomNormal([70_000], using: &rng)
        let gradients = (0..<4).map { _ in Tensor.randomNormal([70_000], using: &rng) }
        let settings: [(momentum: Float, dampening: Float, nesterov: Bool, decay: Float)] = [
            (0.9, 0, false, 0), (0.9, 0.1, false, 1e-2), (0.9, 0, true, 0), (0.8, 0, true, 5e-4), (0, 0, false, 1e-2),
        ]
        for s in settings {
            let rule = SGD(momentum: s.momentum, dampening: s.dampening, nesterov: s.nesterov)
            var fused = start
            var state = rule.initialState(for: fused)
            var reference = start
            var buffer: Tensor?
            for (step, g) in gradients.enumerated() {
                let context = StepContext(learningRate: 0.05, weightDecay: s.decay, step: step + 1)
                rule.update(&fused, gradient: g, state: &state, context: context)
                let (mu, damp, wd, p) = (s.momentum, 1 - s.dampening, s.decay, reference)
                var d = wd == 0 ? g : g.zipMap(p) { $0 + wd * $1 }
                if mu != 0 {
                    let b = buffer.map { $0.zipMap(d) { mu * $0 + damp * $1 } } ?? d
                    buffer = b
                    d = s.nesterov ? d.zipMap(b) { $0 + mu * $1 } : b
                }
                reference.add(d, scale: -0.05)
                XCTAssertEqual(fused.scalars.map(\.bitPattern), reference.scalars.map(\.bitPattern), "\(s), step \(step + 1)")
            }
        }
    }
}

