import Engine
/// A fully connected layer: `y = x · weight + bias`, `x: [n, in]`, `weight: [in, out]`
/// (Keras layout), `bias: [out]`. Default initialisation: Glorot uniform kernel, zero bias
/// (Keras's defaults).
public final class Dense: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inputs: Int, _ outputs: Int, bias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        var rng = Random.makeGenerator()
        weight = Parameter(kernelInitializer.make([inputs, outputs], using: &rng))
        self.bias = bias ? Parameter(biasInitializer.make([outputs], using: &rng)) : nil
        super.init()
    }

    public var inputs: Int { weight.shape[0] }
    public var outputs: Int { weight.shape[1] }

    public override func forward(_ x: Variable) -> Variable {
        ensure(x.shape.count == 2 && x.shape[1] == inputs,
               "Dense(\(inputs)→\(outputs)): expects input [n, \(inputs)], got \(x.shape); add Flatten() before it?")
        return linear(x, weight.variable, bias: bias?.variable)
    }

    public override var summary: String { "Dense(\(inputs)→\(outputs))" }
}

/// Maxout (Goodfellow et al., 2013): a dense layer to `units · pieces` outputs followed by
/// the maximum over each unit's `pieces` (output column `unit · pieces + piece`).
public final class Maxout: Module {
    public let linear: Dense
    public let units: Int, pieces: Int

    public init(_ inputs: Int, units: Int, pieces: Int) {
        linear = Dense(inputs, units * pieces)
        self.units = units
        self.pieces = pieces
        super.init()
    }

    public override func forward(_ x: Variable) -> Variable {
        linear(x).reshaped([x.shape[0], units, pieces]).max(axes: [2])
    }

    public override var summary: String { "Maxout(\(linear.inputs)→\(units), \(pieces) pieces)" }
}
