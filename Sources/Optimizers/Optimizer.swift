import Engine
import Foundation
import Layers

/// Parameters that share a learning rate, weight decay and penalty: discriminative learning
/// rates for fine-tuning give the backbone a smaller rate than the new head.
public struct ParameterGroup {
    public var parameters: [(key: String, parameter: Parameter)]
    public var learningRate: Float
    public var weightDecay: Float
    /// An explicit penalty added to the loss by `Optimizer.penalty()` (L1, L2, elastic net).
    public var regularizer: Regularizer?

    public init(
        _ parameters: [(key: String, parameter: Parameter)], learningRate: Float, weightDecay: Float = 0,
        regularizer: Regularizer? = nil
    ) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        self.regularizer = regularizer
    }
}

/// What every optimiser offers, whatever its rule (for trainers that hold one of any kind).
public protocol GradientOptimizer: AnyObject {
    var groups: [ParameterGroup] { get set }
    /// Scales every group's learning rate; schedules set it (1 = the groups' own rates).
    var learningRateFactor: Float { get set }
    var stepCount: Int { get }
    func step()
    func zeroGrad()
    func penalty() -> Variable?
    func stateData() throws -> Data
    func restoreState(_ data: Data) throws
    /// The state as small JSON plus its tensors (moments), for binary checkpoints.
    func stateArchive() throws -> (json: Data, tensors: [Tensor])
    func restoreState(json: Data, tensors: [Tensor]) throws
}

/// Applies an `UpdateRule` to parameter groups.
///
/// Only parameters that are trainable when `step()` runs and have a gradient are updated,
/// so freezing a module after building the optimiser removes it from the updates. Buffers
/// are never parameters and never reach an optimiser.
public final class Optimizer<Rule: UpdateRule>: GradientOptimizer {
    public var rule: Rule
    public var groups: [ParameterGroup]
    public var learningRateFactor: Float = 1
    public private(set) var stepCount = 0
    private var slots: [String: Slot] = [:]

    struct Slot: Codable {
        var step: Int
        var state: Rule.State
    }

    public init(_ rule: Rule, groups: [ParameterGroup]) {
        var seen = Set<String>()
        for group in groups {
            for (key, _) in group.parameters {
                ensure(seen.insert(key).inserted, "Optimizer: parameter \(key) appears in two groups")
            }
        }
        self.rule = rule
        self.groups = groups
    }

    /// One group with every given parameter (typically `model.trainableParameters`).
    public convenience init(
        _ rule: Rule, parameters: [(key: String, parameter: Parameter)], learningRate: Float,
        weightDecay: Float = 0
    ) {
        self.init(rule, groups: [ParameterGroup(parameters, learningRate: learningRate, weightDecay: weightDecay)])
    }

    public func step() {
        stepCount += 1
        for group in groups {
            for (key, parameter) in group.parameters where parameter.trainable {
                guard let gradient = parameter.grad else { continue }
                // Taken out of the table while it updates, so its state tensors have one reference
                // and rules can write them in place.
                var slot =
                    slots.removeValue(forKey: key) ?? Slot(step: 0, state: rule.initialState(for: parameter.value))
                slot.step += 1
                let rate = group.learningRate * learningRateFactor
                ensure(rate.isFinite, "Optimizer: the learning rate of \(key) is \(rate); check the schedule")
                rule.update(
                    &parameter.variable.value, gradient: gradient, state: &slot.state,
                    context: StepContext(learningRate: rate, weightDecay: group.weightDecay, step: slot.step))
                slots[key] = slot
            }
        }
    }

    public func zeroGrad() {
        for group in groups { for (_, p) in group.parameters { p.grad = nil } }
    }

    /// The groups' explicit penalties summed (nil when no group has one); add it to the loss.
    public func penalty() -> Variable? {
        let terms = groups.compactMap { group in group.regularizer?.penalty(group.parameters.map(\.parameter)) }
        return terms.dropFirst().reduce(terms.first) { $0! + $1 }
    }

    private struct Saved: Codable {
        var rule: String
        var stepCount: Int
        var learningRateFactor: Float
        var slots: [String: Slot]
    }

    /// The rule and its settings, so state is only restored into the same kind of optimiser.
    private var ruleDescription: String { String(describing: rule) }

    /// The optimiser's state (step counts, moments, factor) as JSON, keyed by parameter key.
    public func stateData() throws -> Data {
        try JSONEncoder().encode(
            Saved(rule: ruleDescription, stepCount: stepCount, learningRateFactor: learningRateFactor, slots: slots))
    }

    public func stateArchive() throws -> (json: Data, tensors: [Tensor]) {
        let archive = TensorArchive()
        let encoder = JSONEncoder()
        encoder.userInfo[TensorArchive.key] = archive
        let json = try encoder.encode(
            Saved(
                rule: ruleDescription, stepCount: stepCount, learningRateFactor: learningRateFactor,
                slots: slots))
        return (json, archive.tensors)
    }

    public func restoreState(json: Data, tensors: [Tensor]) throws {
        let decoder = JSONDecoder()
        decoder.userInfo[TensorArchive.key] = TensorArchive(tensors)
        try restore(try decoder.decode(Saved.self, from: json))
    }

    /// Restores `stateData()`; every saved key must belong to a parameter of this optimiser
    /// with the same shape.
    public func restoreState(_ data: Data) throws {
        try restore(try JSONDecoder().decode(Saved.self, from: data))
    }

    private func restore(_ saved: Saved) throws {
        guard saved.rule == ruleDescription else {
            throw OptimizerError.differentRule(saved: saved.rule, current: ruleDescription)
        }
        let parameters = Dictionary(groups.flatMap(\.parameters), uniquingKeysWith: { a, _ in a })
        for (key, slot) in saved.slots.sorted(by: { $0.key < $1.key }) {
            guard let parameter = parameters[key] else { throw OptimizerError.unknownParameter(key) }
            // Every tensor of the state must have the parameter's shape.
            let shapes = Mirror(reflecting: slot.state).children.compactMap { child -> [Int]? in
                if let t = child.value as? Tensor { return t.shape }
                if let t = child.value as? Tensor?, let t { return t.shape }
                return nil
            }
            if let bad = shapes.first(where: { $0 != parameter.shape }) {
                throw OptimizerError.shapeMismatch(key: key, saved: bad, parameter: parameter.shape)
            }
        }
        stepCount = saved.stepCount
        learningRateFactor = saved.learningRateFactor
        slots = saved.slots
    }
}

public enum OptimizerError: Error, CustomStringConvertible {
    case unknownParameter(String)
    case shapeMismatch(key: String, saved: [Int], parameter: [Int])
    case differentRule(saved: String, current: String)
    public var description: String {
        switch self {
        case .shapeMismatch(let key, let saved, let parameter):
            return
                "optimizer state for \(key) has shape \(saved) but the parameter is \(parameter); was the head replaced? Start the optimizer afresh"
        case .differentRule(let saved, let current):
            return "optimizer state was saved by \(saved), not by this \(current); build the same optimizer to resume"
        case .unknownParameter(let key):
            return
                "optimizer state names parameter \(key), which this optimizer does not hold; was it saved for another model?"
        }
    }
}
