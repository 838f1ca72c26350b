/// Layers applied in order. Children are named "0", "1", … (PyTorch's `nn.Sequential`).
public final class Sequential: Module {
    public private(set) var layers: [Module]

    public init(_ layers: [Module]) { self.layers = layers }
    public convenience init(_ layers: Module...) { self.init(layers) }

    public override var namedChildren: [(name: String, module: Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }

    public override func forward(_ x: Variable) -> Variable {
        layers.reduce(x) { $1($0) }
    }

    /// Replaces the layer at `index` (e.g. a new classification head).
    public func replace(at index: Int, with module: Module) {
        ensure(layers.indices.contains(index), "Sequential.replace: no layer \(index) in \(layers.count) layers")
        layers[index] = module
    }

    public func append(_ module: Module) { layers.append(module) }
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
