import Engine
import Foundation

/// Weight initialisers, with the fan conventions of PyTorch's `torch.nn.init`.
///
/// Fans: a dense kernel `[in, out]` has `fanIn = in`, `fanOut = out`; a convolution kernel
/// HWIO `[kh, kw, in, out]` has `fanIn = kh·kw·in`, `fanOut = kh·kw·out`; a vector `[n]`
/// has both equal to `n`.
public enum Initializer: Equatable, Sendable {
    public enum FanMode: Sendable { case fanIn, fanOut }

    case zeros
    case constant(Float)
    /// N(mean, std²).
    case normal(mean: Float = 0, std: Float)
    /// U[low, high).
    case uniform(low: Float, high: Float)
    /// Glorot & Bengio (2010): N(0, 2 / (fanIn + fanOut)), untruncated (PyTorch's
    /// `xavier_normal_`; Keras truncates at two standard deviations).
    case glorotNormal
    /// Glorot & Bengio (2010): U(±sqrt(6 / (fanIn + fanOut))).
    case glorotUniform
    /// LeCun et al. (1998, "Efficient BackProp"), for tanh and SELU networks, the lecture notes'
    /// "N(0, 1) · sqrt(1 / n_in)": N(0, 1 / fanIn), untruncated (Keras's `lecun_normal`
    /// truncates at two standard deviations).
    case lecunNormal
    /// LeCun et al. (1998): U(±sqrt(3 / fanIn)) (Keras's `lecun_uniform`).
    case lecunUniform
    /// He et al. (2015), for ReLU networks: N(0, 2 / fan).
    case heNormal(FanMode = .fanIn)
    /// He et al. (2015): U(±sqrt(6 / fan)).
    case heUniform(FanMode = .fanIn)

    /// The fans of a kernel shape, as documented on the type.
    public static func fans(_ shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        switch shape.count {
        case 0: return (1, 1)
        case 1: return (shape[0], shape[0])
        default:
            let receptive = shape.dropLast(2).product
            return (receptive * shape[shape.count - 2], receptive * shape[shape.count - 1])
        }
    }

    /// The standard deviation the initialiser's distribution has for `shape` (for tests).
    public func standardDeviation(_ shape: [Int]) -> Float {
        let (fanIn, fanOut) = Initializer.fans(shape)
        func fan(_ mode: FanMode) -> Float { Float(mode == .fanIn ? fanIn : fanOut) }
        switch self {
        case .zeros, .constant: return 0
        case let .normal(_, std): return std
        case let .uniform(low, high): return (high - low) / Float(12).squareRoot()
        case .glorotNormal, .glorotUniform: return (2 / Float(fanIn + fanOut)).squareRoot()
        case .lecunNormal, .lecunUniform: return (1 / Float(fanIn)).squareRoot()
        case let .heNormal(mode), let .heUniform(mode): return (2 / fan(mode)).squareRoot()
        }
    }

    /// A tensor of `shape` drawn from this initialiser.
    public func make(_ shape: [Int], using rng: inout RandomGenerator) -> Tensor {
        let (fanIn, fanOut) = Initializer.fans(shape)
        func fan(_ mode: FanMode) -> Float { Float(mode == .fanIn ? fanIn : fanOut) }
        switch self {
        case .zeros: return .zeros(shape)
        case let .constant(v): return .full(shape, v)
        case let .normal(mean, std): return .randomNormal(shape, mean: mean, std: std, using: &rng)
        case let .uniform(low, high): return .randomUniform(shape, low: low, high: high, using: &rng)
        case .glorotNormal: return .randomNormal(shape, std: standardDeviation(shape), using: &rng)
        case .glorotUniform:
            let bound = (6 / Float(fanIn + fanOut)).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, using: &rng)
        case .lecunNormal: return .randomNormal(shape, std: standardDeviation(shape), using: &rng)
        case .lecunUniform:
            let bound = (3 / Float(fanIn)).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, using: &rng)
        case let .heNormal(mode): return .randomNormal(shape, std: (2 / fan(mode)).squareRoot(), using: &rng)
        case let .heUniform(mode):
            let bound = (6 / fan(mode)).squareRoot()
            return .randomUniform(shape, low: -bound, high: bound, using: &rng)
        }
    }
}
