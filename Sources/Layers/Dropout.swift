import Engine

/// A layer that draws random masks in training mode from its own generator: a trainer
/// reseeds every one before each step (`reseed`), so masks follow from (seed, step, layer).
public protocol Reseedable: AnyObject {
    /// Restarts the mask generator from `seed`.
    func reseed(_ seed: UInt64)
}

/// Inverted dropout (Srivastava et al., 2014): in training mode each element is zeroed with
/// probability `rate` and the survivors scaled by `1 / (1 - rate)`; in inference mode it is
/// the identity. Masks come from the layer's own generator, split from the global seed;
/// a trainer reseeds it every step (`reseed`) so masks follow from (seed, step, layer).
public final class Dropout: Module, Reseedable {
    public let rate: Float
    private var rng: RandomGenerator

    public init(_ rate: Float) {
        ensure(rate >= 0 && rate < 1, "Dropout: rate \(rate) must be in [0, 1)")
        self.rate = rate
        rng = Random.makeGenerator()
    }

    /// Restarts the mask generator from `seed`.
    public func reseed(_ seed: UInt64) { rng = RandomGenerator(seed: seed) }

    public override func forward(_ x: Variable) -> Variable {
        isTraining ? dropout(x, rate: rate, using: &rng) : x
    }

    public override var summary: String { "Dropout(\(rate))" }
}

/// DropBlock (Ghiasi, Lin & Le, 2018, "DropBlock: A regularization method for convolutional
/// networks"): dropout for NHWC feature maps `[n, h, w, c]` that zeroes contiguous
/// `blockSize` x `blockSize` squares per sample and channel, since neighbouring activations
/// carry the same information and single dropped elements are easily made up for. In
/// training mode block corners are drawn with `Kernels.dropBlockGamma` so that about `rate`
/// of the elements are dropped, the rest scaled by count / kept (torchvision's
/// `DropBlock2d`); in inference mode it is the identity. The block size is clamped to the
/// map's sides. Masks come from the layer's own generator, reseeded by the trainer as
/// `Dropout`'s are.
public final class DropBlock: Module, Reseedable {
    public let rate: Float
    public let blockSize: Int
    private var rng: RandomGenerator

    /// Drops about `rate` of a map's elements in `blockSize` x `blockSize` blocks (the paper: 7).
    public init(rate: Float, blockSize: Int = 7) {
        ensure(rate >= 0 && rate < 1, "DropBlock: rate \(rate) must be in [0, 1)")
        ensure(blockSize >= 1, "DropBlock: block size \(blockSize) must be at least 1")
        self.rate = rate
        self.blockSize = blockSize
        rng = Random.makeGenerator()
    }

    /// Restarts the mask generator from `seed`.
    public func reseed(_ seed: UInt64) { rng = RandomGenerator(seed: seed) }

    public override func forward(_ x: Variable) -> Variable {
        guard isTraining, rate > 0 else { return x }
        ensure(x.shape.count == 4, "DropBlock: expects an NHWC map [n, h, w, c], got \(x.shape)")
        let corners = Kernels.dropBlockCorners(shape: x.shape, rate: rate, blockSize: blockSize, using: &rng)
        let mask = Kernels.dropBlockMask(corners: corners, height: x.shape[1], width: x.shape[2], blockSize: blockSize)
        return x * Variable(mask)
    }

    public override var summary: String { "DropBlock(\(rate), \(blockSize)x\(blockSize))" }
}
