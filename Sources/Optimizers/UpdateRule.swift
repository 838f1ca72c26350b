import Engine
import Layers

/// What one optimiser step knows besides the gradient.
public struct StepContext: Sendable {
    /// The group's learning rate times the schedule's factor.
    public var learningRate: Float
    /// The group's weight decay (coupled L2 for every rule but AdamW, which decouples it).
    public var weightDecay: Float
    /// This parameter's step number, from 1.
    public var step: Int
}

/// One optimiser: an update rule over a small per-parameter state (MLX Swift's
/// `OptimizerBase` design). Formulas follow `torch.optim` 1.13, checked against it to 1e-5
/// relative on 20-step trajectories (`scripts/fixtures/optimizers.py`).
public protocol UpdateRule: Sendable {
    associatedtype State: Codable & Sendable
    /// The state of a parameter before its first step.
    func initialState(for parameter: Tensor) -> State
    /// Updates `parameter` in place from `gradient`.
    func update(_ parameter: inout Tensor, gradient: Tensor, state: inout State, context: StepContext)
}

extension Tensor {
    /// `self + wd · parameter` when `wd != 0` (coupled L2 weight decay, PyTorch-style).
    func withWeightDecay(_ wd: Float, of parameter: Tensor) -> Tensor {
        wd == 0 ? self : self.zipMap(parameter) { $0 + wd * $1 }
    }
}
