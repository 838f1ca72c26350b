import Engine
/// Inverted dropout (Srivastava et al., 2014): in training mode each element is zeroed with
/// probability `rate` and the survivors scaled by `1 / (1 - rate)`; in inference mode it is
/// the identity. Masks come from the layer's own generator, split from the global seed;
/// a trainer reseeds it every step (`reseed`) so masks follow from (seed, step, layer).
public final class Dropout: Module {
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
