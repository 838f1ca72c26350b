import Engine
/// Layers applied in order. Children are named "0", "1", … (PyTorch's `nn.Sequential`) or
/// by the names given to `init(named:)` (`block1.conv1`, as Keras names layers).
public final class Sequential: Module {
    public private(set) var layers: [Module]
    public private(set) var names: [String]

    public init(_ layers: [Module]) {
        self.layers = layers
        names = layers.indices.map { "\($0)" }
    }

    public convenience init(_ layers: Module...) { self.init(layers) }

    /// Layers with their own names (unique).
    public init(named: [(String, Module)]) {
        ensure(Set(named.map(\.0)).count == named.count, "Sequential: duplicate layer names in \(named.map(\.0))")
        layers = named.map(\.1)
        names = named.map(\.0)
    }

    public override var namedChildren: [(name: String, module: Module)] {
        Array(zip(names, layers))
    }

    /// The layers in order; where no gradient is wanted, a convolution with the BatchNorm and
    /// ReLU after it runs as one fused convolution, and elsewhere a BatchNorm and the ReLU
    /// after it as one op (`Fusion`).
    public override func forward(_ x: Variable) -> Variable {
        var h = x
        var next = 0
        while next < layers.count {
            if let (fused, used) =
                Fusion.convolutionUnit(layers[next...], on: h) ?? Fusion.normReLUUnit(layers[next...], on: h)
            {
                h = fused
                next += used
            } else {
                h = layers[next](h)
                next += 1
            }
        }
        return h
    }

    /// The layer called `name`.
    public subscript(name: String) -> Module? {
        names.firstIndex(of: name).map { layers[$0] }
    }

    /// Replaces the layer at `index` (e.g. a new classification head).
    public func replace(at index: Int, with module: Module) {
        ensure(layers.indices.contains(index), "Sequential.replace: no layer \(index) in \(layers.count) layers")
        layers[index] = module
    }

    public func append(_ module: Module, name: String? = nil) {
        let name = name ?? "\(layers.count)"
        ensure(!names.contains(name), "Sequential.append: a layer is already called \(name)")
        layers.append(module)
        names.append(name)
    }
}

/// A residual connection (He et al., 2016): `body(x) + shortcut(x)`, where the shortcut is
/// the identity unless given (a 1x1 projection when shapes change).
public final class Residual: Module {
    public let body: Module
    public let shortcut: Module?

    public init(_ body: Module, shortcut: Module? = nil) {
        self.body = body
        self.shortcut = shortcut
    }

    public override func forward(_ x: Variable) -> Variable {
        let main = body(x)
        let skip = shortcut?(x) ?? x
        ensure(main.shape == skip.shape, "Residual: body output \(main.shape) and shortcut \(skip.shape) differ; add a projection shortcut")
        return main + skip
    }
}
