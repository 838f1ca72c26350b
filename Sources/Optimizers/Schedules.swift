import Engine
import Foundation
import Layers

/// A learning-rate schedule as a factor of the base rate after `step` optimiser steps
/// (`lr = base · factor(step)`), the form of PyTorch's `lr_scheduler`s.
public protocol LearningRateSchedule: Sendable {
    func factor(at step: Int) -> Float
}

public struct ConstantSchedule: LearningRateSchedule {
    public init() {}
    public func factor(at step: Int) -> Float { 1 }
}

/// `gamma^floor(step / every)` (PyTorch `StepLR`).
public struct StepDecay: LearningRateSchedule {
    public var every: Int, gamma: Float
    public init(every: Int, gamma: Float = 0.1) {
        ensure(every >= 1, "StepDecay: every \(every) must be at least 1 step")
        self.every = every
        self.gamma = gamma
    }
    public func factor(at step: Int) -> Float { Float(Foundation.pow(Double(gamma), Double(step / every))) }
}

/// `gamma^step` (PyTorch `ExponentialLR`).
public struct ExponentialDecay: LearningRateSchedule {
    public var gamma: Float
    public init(gamma: Float) { self.gamma = gamma }
    public func factor(at step: Int) -> Float { Float(Foundation.pow(Double(gamma), Double(step))) }
}

/// `1 / (1 + rate · step / every)` (Keras `InverseTimeDecay`, the notes' 1/t decay).
public struct InverseTimeDecay: LearningRateSchedule {
    public var rate: Float, every: Int
    public init(rate: Float, every: Int = 1) {
        ensure(every >= 1 && rate >= 0, "InverseTimeDecay: rate \(rate) must be ≥ 0 and every \(every) ≥ 1")
        self.rate = rate
        self.every = every
    }
    public func factor(at step: Int) -> Float { 1 / (1 + rate * Float(step) / Float(every)) }
}

/// Cosine annealing (Loshchilov & Hutter, 2017) from 1 to `minimum` over `period` steps:
/// `min + (1 - min)·(1 + cos(π·step/period))/2` (PyTorch `CosineAnnealingLR`'s closed form).
public struct CosineDecay: LearningRateSchedule {
    public var period: Int, minimum: Float
    public init(period: Int, minimum: Float = 0) {
        ensure(period >= 1, "CosineDecay: period \(period) must be at least 1 step")
        self.period = period
        self.minimum = minimum
    }
    public func factor(at step: Int) -> Float {
        Float(
            Double(minimum) + (1 - Double(minimum)) * (1 + Foundation.cos(Double.pi * Double(step) / Double(period)))
                / 2)
    }
}

/// Cosine annealing with warm restarts, SGDR (Loshchilov & Hutter, 2017), PyTorch's
/// `CosineAnnealingWarmRestarts`: cycle i lasts `period · multiplier^i` steps, and within a
/// cycle the factor falls from 1 to `minimum` as in `CosineDecay`, then jumps back to 1.
/// With `cycles`, the factor stays at `minimum` after that many cycles. The ends of the cycles
/// are where snapshot ensembles (Huang et al., 2017) take their models.
public struct CosineWarmRestarts: LearningRateSchedule {
    /// The first cycle's length in steps.
    public var period: Int
    /// Each cycle is this many times longer than the one before (SGDR's T_mult; 1: equal cycles).
    public var multiplier: Int
    /// The factor at the end of each cycle.
    public var minimum: Float
    /// The number of cycles before the factor stays at `minimum`; nil: restarts for ever.
    public var cycles: Int?

    /// Cycles of `period · multiplier^i` steps, each annealing from 1 to `minimum`; at `minimum`
    /// after `cycles` of them (nil: for ever).
    public init(period: Int, multiplier: Int = 1, minimum: Float = 0, cycles: Int? = nil) {
        ensure(
            period >= 1 && multiplier >= 1 && (cycles ?? 1) >= 1,
            "CosineWarmRestarts: period \(period), multiplier \(multiplier) and cycles \(cycles ?? 1) must be at least 1"
        )
        self.period = period
        self.multiplier = multiplier
        self.minimum = minimum
        self.cycles = cycles
    }

    /// The cycle that `step` falls in (0-based), its first step and its length; past the last of
    /// `cycles`, the cycle after it.
    public func cycle(at step: Int) -> (index: Int, start: Int, length: Int) {
        if multiplier == 1 {
            let index = min(step / period, cycles ?? Int.max)
            return (index, index * period, period)
        }
        var index = 0
        var start = 0
        var length = period
        while step >= start + length && index < (cycles ?? Int.max) {
            start += length
            length *= multiplier
            index += 1
        }
        return (index, start, length)
    }

    /// The cosine factor within the step's cycle (`minimum` after the last cycle).
    public func factor(at step: Int) -> Float {
        let (index, start, length) = cycle(at: step)
        if let cycles, index >= cycles { return minimum }
        return CosineDecay(period: length, minimum: minimum).factor(at: step - start)
    }
}

extension CosineWarmRestarts: CustomStringConvertible {
    /// `CosineWarmRestarts(period: 24, multiplier: 1, minimum: 0.01, cycles: 3)`.
    public var description: String {
        "CosineWarmRestarts(period: \(period), multiplier: \(multiplier), minimum: \(minimum), cycles: "
            + (cycles.map(String.init) ?? "unlimited") + ")"
    }
}

/// Linear warm-up from `start` to 1 over `steps` steps, then `then` (counted from the end of
/// the warm-up). With a constant `then`, PyTorch's `LinearLR`.
public struct LinearWarmup: LearningRateSchedule {
    public var steps: Int, start: Float, then: any LearningRateSchedule
    public init(steps: Int, start: Float = 0, then: any LearningRateSchedule = ConstantSchedule()) {
        self.steps = steps
        self.start = start
        self.then = then
    }
    public func factor(at step: Int) -> Float {
        step < steps ? start + (1 - start) * Float(step) / Float(steps) : then.factor(at: step - steps)
    }
}

/// The one-cycle policy (Smith & Topin, 2019), PyTorch's `OneCycleLR` (two phases, cosine):
/// from `1/divFactor` up to 1 over the first `warmupFraction` of `totalSteps`, then down to
/// `1/(divFactor·finalDivFactor)`. Factors are relative to the maximum rate.
public struct OneCycle: LearningRateSchedule {
    public var totalSteps: Int, warmupFraction: Float, divFactor: Float, finalDivFactor: Float

    public init(totalSteps: Int, warmupFraction: Float = 0.3, divFactor: Float = 25, finalDivFactor: Float = 1e4) {
        ensure(
            Float(totalSteps) * warmupFraction > 1 && warmupFraction < 1 && divFactor > 0 && finalDivFactor > 0,
            "OneCycle: needs more than one warm-up step and a warm-up fraction below 1 (got \(totalSteps) steps, fraction \(warmupFraction))"
        )
        self.totalSteps = totalSteps
        self.warmupFraction = warmupFraction
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
    }

    public func factor(at step: Int) -> Float {
        let initial = 1 / Double(divFactor)
        let final = initial / Double(finalDivFactor)
        let peak = Double(warmupFraction) * Double(totalSteps) - 1
        let end = Double(totalSteps) - 1
        func anneal(_ from: Double, _ to: Double, _ pct: Double) -> Double {
            to + (from - to) / 2 * (1 + Foundation.cos(Double.pi * pct))
        }
        let s = Double(step)
        return Float(s <= peak ? anneal(initial, 1, s / peak) : anneal(1, final, min((s - peak) / (end - peak), 1)))
    }
}

/// Cuts the rate by `factor` when a monitored metric (lower is better) has not improved by
/// a relative `threshold` for `patience` observations (PyTorch `ReduceLROnPlateau`, mode
/// "min", relative threshold). Feed it with `observe(_:)` once per epoch.
public final class ReduceOnPlateau {
    public let factor: Float, patience: Int, threshold: Float, cooldown: Int, minimum: Float
    public private(set) var current: Float = 1
    private var best = Float.infinity, badEpochs = 0, cooldownLeft = 0

    public init(factor: Float = 0.1, patience: Int = 10, threshold: Float = 1e-4, cooldown: Int = 0, minimum: Float = 0)
    {
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.cooldown = cooldown
        self.minimum = minimum
    }

    /// Records the metric of an epoch; returns the (possibly reduced) factor.
    @discardableResult
    public func observe(_ metric: Float) -> Float {
        if metric < best * (1 - threshold) {
            best = metric
            badEpochs = 0
        } else {
            badEpochs += 1
        }
        if cooldownLeft > 0 {
            cooldownLeft -= 1
            badEpochs = 0
        }
        if badEpochs > patience {
            current = Swift.max(current * factor, minimum)
            cooldownLeft = cooldown
            badEpochs = 0
        }
        return current
    }

    /// Everything `observe` changes, for checkpoints (`best` is nil before any observation).
    public struct State: Codable, Equatable, Sendable {
        public var current: Float
        public var best: Float?
        public var badEpochs: Int
        public var cooldownLeft: Int
    }

    public var state: State {
        get {
            State(current: current, best: best.isFinite ? best : nil, badEpochs: badEpochs, cooldownLeft: cooldownLeft)
        }
        set {
            current = newValue.current
            best = newValue.best ?? .infinity
            badEpochs = newValue.badEpochs
            cooldownLeft = newValue.cooldownLeft
        }
    }
}
