import Engine
import Foundation
import Layers
import Optimizers
import TestSupport
import XCTest

/// Optimisers, schedules and clipping against torch.optim 1.13 (scripts/fixtures/optimizers.py):
/// 20-step float32 trajectories on `0.5·|Ap - b|²/8 + 0.05·Σp⁴` within 1e-5 relative
/// (atol 1e-6), learning-rate sequences within 1e-6 relative.
final class OptimizerParityTests: XCTestCase {
    static let root = try! Fixtures.json("optimizers.json")

    func hyper(_ d: [String: Any], _ key: String, _ fallback: Float = 0) -> Float {
        (d[key] as? NSNumber)?.floatValue ?? fallback
    }
    func flag(_ d: [String: Any], _ key: String) -> Bool { (d[key] as? NSNumber)?.boolValue ?? false }

    /// The rule of a fixture config, type-erased into an optimiser over `parameter`.
    func makeOptimizer(_ kind: String, _ h: [String: Any], _ parameter: Parameter) -> any GradientOptimizer {
        let params = [(key: "p", parameter: parameter)]
        let lr = hyper(h, "lr")
        let wd = hyper(h, "weight_decay")
        let betas = (h["betas"] as? [NSNumber])?.map(\.floatValue) ?? [0.9, 0.999]
        switch kind {
        case "sgd":
            return Optimizer(
                SGD(momentum: hyper(h, "momentum"), dampening: hyper(h, "dampening"), nesterov: flag(h, "nesterov")),
                parameters: params, learningRate: lr, weightDecay: wd)
        case "adagrad":
            return Optimizer(
                Adagrad(
                    epsilon: hyper(h, "eps"), lrDecay: hyper(h, "lr_decay"),
                    initialAccumulator: hyper(h, "initial_accumulator_value")),
                parameters: params, learningRate: lr, weightDecay: wd)
        case "adadelta":
            return Optimizer(
                Adadelta(rho: hyper(h, "rho"), epsilon: hyper(h, "eps")), parameters: params, learningRate: lr,
                weightDecay: wd)
        case "rmsprop":
            return Optimizer(
                RMSProp(
                    alpha: hyper(h, "alpha"), epsilon: hyper(h, "eps"), momentum: hyper(h, "momentum"),
                    centered: flag(h, "centered")), parameters: params, learningRate: lr, weightDecay: wd)
        case "adam":
            return Optimizer(
                Adam(beta1: betas[0], beta2: betas[1], epsilon: hyper(h, "eps"), amsgrad: flag(h, "amsgrad")),
                parameters: params, learningRate: lr, weightDecay: wd)
        case "adamw":
            return Optimizer(
                AdamW(beta1: betas[0], beta2: betas[1], epsilon: hyper(h, "eps"), amsgrad: flag(h, "amsgrad")),
                parameters: params, learningRate: lr, weightDecay: wd)
        case "nadam":
            return Optimizer(
                NAdam(
                    beta1: betas[0], beta2: betas[1], epsilon: hyper(h, "eps"),
                    momentumDecay: hyper(h, "momentum_decay")),
                parameters: params, learningRate: lr, weightDecay: wd)
        default: fatalError("no Graft optimiser for \(kind)")
        }
    }

    func testTrajectoriesMatchTorchOptim() throws {
        let problem = Self.root["problem"] as! [String: Any]
        let a = Fixtures.tensor(problem["A"]!)
        let b = Fixtures.tensor(problem["b"]!)
        let p0 = Fixtures.tensor(problem["p0"]!)
        let configs = Self.root["optimizers"] as! [[String: Any]]
        XCTAssertEqual(
            Set(configs.map { $0["kind"] as! String }),
            ["sgd", "adagrad", "adadelta", "rmsprop", "adam", "adamw", "nadam"])
        for config in configs {
            let name = config["name"] as! String
            let p = Parameter(p0)
            let optimizer = makeOptimizer(config["kind"] as! String, config["hyper"] as! [String: Any], p)
            let expected = Fixtures.tensor(config["trajectory"]!)
            let losses = Fixtures.tensor(config["losses"]!)
            for step in 0..<20 {
                optimizer.zeroGrad()
                let residual = matmul(Variable(a), p.variable.reshaped([6, 1])).reshaped([8]) - Variable(b)
                let loss = residual.squared().sum() * (0.5 / 8) + p.variable.pow(4).sum() * 0.05
                assertClose(
                    loss.value, Tensor(losses.scalars[step]), rtol: 1e-5, atol: 1e-6, "\(name) loss before step \(step)"
                )
                loss.backward()
                optimizer.step()
                assertClose(
                    p.value, expected.slice(batch: step..<(step + 1)).reshaped([6]), rtol: 1e-5, atol: 1e-6,
                    "\(name) after step \(step + 1)")
            }
        }
    }

    func testSchedulesMatchTorchLRSchedulers() {
        for s in Self.root["schedules"] as! [[String: Any]] {
            let h = s["hyper"] as! [String: Any]
            let expected = Fixtures.tensor(s["lrs"]!).scalars
            let base = hyper(h, "base_lr", hyper(h, "max_lr"))
            var actual: [Float] = []
            switch s["kind"] as! String {
            case "step": actual = (0..<20).map { base * StepDecay(every: 3, gamma: hyper(h, "gamma")).factor(at: $0) }
            case "exponential":
                actual = (0..<20).map { base * ExponentialDecay(gamma: hyper(h, "gamma")).factor(at: $0) }
            case "cosine":
                let schedule = CosineDecay(period: Int(hyper(h, "T_max")), minimum: hyper(h, "eta_min") / base)
                actual = (0..<20).map { base * schedule.factor(at: $0) }
            case "warm_restarts":
                let schedule = CosineWarmRestarts(
                    period: Int(hyper(h, "T_0")), multiplier: Int(hyper(h, "T_mult")),
                    minimum: hyper(h, "eta_min") / base)
                actual = (0..<20).map { base * schedule.factor(at: $0) }
            case "linear_warmup":
                let schedule = LinearWarmup(steps: Int(hyper(h, "total_iters")), start: hyper(h, "start_factor"))
                actual = (0..<20).map { base * schedule.factor(at: $0) }
            case "one_cycle":
                let schedule = OneCycle(
                    totalSteps: 20, warmupFraction: hyper(h, "pct_start"), divFactor: hyper(h, "div_factor"),
                    finalDivFactor: hyper(h, "final_div_factor"))
                actual = (0..<20).map { base * schedule.factor(at: $0) }
            case "reduce_on_plateau":
                let plateau = ReduceOnPlateau(
                    factor: hyper(h, "factor"), patience: Int(hyper(h, "patience")), threshold: hyper(h, "threshold"))
                actual = Fixtures.tensor(s["metrics"]!).scalars.map { metric in
                    defer { plateau.observe(metric) }
                    return base * plateau.current
                }
            default: XCTFail("unknown schedule \(s["kind"]!)")
            }
            assertClose(Tensor(actual), Tensor(expected), rtol: 1e-6, atol: 1e-9, "schedule \(s["name"]!)")
        }
    }

    func testGradientClippingMatchesTorch() {
        let c = Self.root["clipping"] as! [String: Any]
        let grads = (c["grads"] as! [Any]).map(Fixtures.tensor)
        let params = grads.map { g -> Parameter in
            let p = Parameter(.zeros(g.shape))
            p.grad = g
            return p
        }
        let norm = GradientClipping.clipByGlobalNorm(params, maxNorm: (c["norm_max"] as! NSNumber).floatValue)
        XCTAssertEqual(norm, (c["total_norm"] as! NSNumber).floatValue, accuracy: 1e-5)
        for (p, expected) in zip(params, (c["clipped_by_norm"] as! [Any]).map(Fixtures.tensor)) {
            assertClose(p.grad!, expected, rtol: 1e-5, atol: 1e-7, "clip by norm")
        }
        for (p, g) in zip(params, grads) { p.grad = g }
        GradientClipping.clipByValue(params, maxValue: (c["value_max"] as! NSNumber).floatValue)
        for (p, expected) in zip(params, (c["clipped_by_value"] as! [Any]).map(Fixtures.tensor)) {
            XCTAssertEqual(p.grad!, expected)
        }
    }
}
