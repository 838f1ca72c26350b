import Engine
import Foundation
import Layers
import TestSupport
import XCTest

/// Layers and losses against PyTorch (scripts/fixtures/layers.py, float64 references):
/// forward and gradients of `sum(y · upstream)` within rtol 1e-4 / atol 1e-5, and every one
/// against central differences (eps 1e-2, rtol 1e-2, atol 2e-3).
final class LayerParityTests: XCTestCase {
    static let cases = try! Fixtures.load("layers.json")

    /// Builds the case's layer (parameters set from `values`) or loss and runs it; returns the
    /// output and a reader for each input's gradient (a parameter's or a data leaf's).
    static func run(_ c: FixtureCase, _ values: [String: Tensor], recording: Bool) -> (y: Variable, grad: (String) -> Tensor?) {
        let data = values.reduce(into: [String: Variable]()) {
            $0[$1.key] = Variable($1.value, requiresGrad: recording && c.grads[$1.key] != nil)
        }
        var params: [String: Parameter] = [:]
        func bind(_ layer: Module, _ names: [String: String]) {
            let own = Dictionary(uniqueKeysWithValues: layer.namedParameters.map { ($0.key, $0.parameter) })
            for (fixtureName, key) in names {
                own[key]!.value = values[fixtureName]!
                own[key]!.trainable = recording
                params[fixtureName] = own[key]!
            }
        }
        let labels = values["labels"].map { $0.scalars.map { Int($0) } } ?? []
        let y: Variable
        switch c.op {
        case "layer_norm":
            let layer = LayerNorm(values["gamma"]!.count, epsilon: c.float("eps"))
            bind(layer, ["gamma": "gamma", "beta": "beta"]); y = layer(data["x"]!)
        case "group_norm":
            let layer = GroupNorm(groups: c.int("groups"), channels: values["gamma"]!.count, epsilon: c.float("eps"))
            bind(layer, ["gamma": "gamma", "beta": "beta"]); y = layer(data["x"]!)
        case "prelu":
            let layer = PReLU(channels: values["alpha"]!.count)
            bind(layer, ["alpha": "alpha"]); y = layer(data["x"]!)
        case "maxout":
            let layer = Maxout(values["w"]!.shape[0], units: c.int("units"), pieces: c.int("pieces"))
            bind(layer, ["w": "linear.weight", "b": "linear.bias"]); y = layer(data["x"]!)
        case "zero_pad2d":
            let p = c.ints("padding")!
            y = ZeroPadding2D(top: p[0], bottom: p[1], left: p[2], right: p[3])(data["x"]!)
        case "softmax_cross_entropy":
            let weights = (c.attrs["class_weights"] as? [NSNumber]).map { Tensor($0.map(\.floatValue)) }
            y = try! softmaxCrossEntropy(logits: data["logits"]!, labels: labels, labelSmoothing: c.float("label_smoothing"),
                                         classWeights: weights)
        case "bce_with_logits":
            let pw = (c.attrs["pos_weight"] as? [NSNumber]).map { Tensor($0.map(\.floatValue)) }
            y = try! binaryCrossEntropyWithLogits(logits: data["logits"]!, targets: values["targets"]!, positiveWeight: pw)
        case "mse": y = try! meanSquaredError(data["x"]!, values["target"]!)
        case "multi_margin": y = try! multiClassHinge(logits: data["logits"]!, labels: labels)
        case "drop_block":  // the layer's mask from torchvision's own Bernoulli draws (`corners`)
            let x = data["x"]!
            let mask = Kernels.dropBlockMask(
                corners: values["corners"]!, height: x.shape[1], width: x.shape[2],
                blockSize: c.int("requested_block_size"),
                epsilon: c.float("eps"))
            y = x * Variable(mask)
        default: fatalError("no Graft mapping for fixture op \(c.op)")
        }
        return (y, { name in params[name]?.grad ?? data[name]?.grad })
    }

    func testFixturesCoverEveryLayerAndLoss() {
        let ops = Set(Self.cases.map(\.op))
        for op in ["layer_norm", "group_norm", "prelu", "maxout", "zero_pad2d", "softmax_cross_entropy", "bce_with_logits", "mse", "multi_margin",
                   "drop_block"] {
            XCTAssertTrue(ops.contains(op), "no fixture for \(op)")
        }
    }

    /// DropBlock's clamp of the block to the map and its corner rate γ, as torchvision computes them.
    func testDropBlockClampAndRateMatchTorchvision() {
        let cases = Self.cases.filter { $0.op == "drop_block" }
        XCTAssertEqual(cases.count, 3)
        for c in cases {
            let (h, w) = (c.inputs["x"]!.shape[1], c.inputs["x"]!.shape[2])
            let b = Kernels.dropBlockSize(c.int("requested_block_size"), height: h, width: w)
            XCTAssertEqual(b, c.int("block_size"), c.name)
            XCTAssertEqual(
                Kernels.dropBlockGamma(rate: c.float("p"), blockSize: b, height: h, width: w), c.float("gamma"),
                accuracy: 1e-6, c.name)
        }
    }

    func testForwardAndBackwardMatchPyTorch() {
        for c in Self.cases {
            let (y, grad) = Self.run(c, c.inputs, recording: true)
            assertClose(y.value, c.outputs["y"]!, "\(c.name) forward")
            y.backward(seed: c.upstream)
            for (name, expected) in c.grads {
                guard let g = grad(name) else { XCTFail("\(c.name): no gradient for \(name)"); continue }
                assertClose(g, expected, "\(c.name) d/d\(name)")
            }
        }
    }

    func testEveryLayerAgainstCentralDifferences() {
        for c in Self.cases {
            checkGradients(c.name, inputs: c.inputs, differentiable: Array(c.grads.keys), upstream: c.upstream) {
                Self.run(c, $0, recording: $1)
            }
        }
    }
}
