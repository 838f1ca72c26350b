import Engine
/// 2-D convolution on NHWC input `[n, h, w, in]` with an HWIO kernel
/// `[kh, kw, in / groups, out]` and optional bias `[out]`; output `[n, oh, ow, out]` with
/// `oh = floor((h + padTop + padBottom - dilation·(kh - 1) - 1) / stride) + 1` (and `.same`
/// giving `ceil(h / stride)`, Keras-style). Default initialisation: Glorot uniform kernel,
/// zero bias (Keras's defaults).
public final class Conv2D: Module {
    public let weight: Parameter
    public let bias: Parameter?
    public let stride: (Int, Int)
    public let padding: Padding
    public let dilation: (Int, Int)
    public let groups: Int

    public init(_ inputs: Int, _ outputs: Int, kernel: (Int, Int), stride: (Int, Int) = (1, 1),
                padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1, bias: Bool = true,
                kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros) {
        ensure(groups >= 1 && inputs % groups == 0 && outputs % groups == 0,
               "Conv2D(\(inputs)→\(outputs)): \(groups) groups must divide both channel counts")
        var rng = Random.makeGenerator()
        weight = Parameter(kernelInitializer.make([kernel.0, kernel.1, inputs / groups, outputs], using: &rng))
        self.bias = bias ? Parameter(biasInitializer.make([outputs], using: &rng)) : nil
        self.stride = stride; self.padding = padding; self.dilation = dilation; self.groups = groups
        super.init()
    }

    /// A square kernel.
    public convenience init(_ inputs: Int, _ outputs: Int, kernel: Int, stride: Int = 1, padding: Padding = .valid,
                            dilation: Int = 1, groups: Int = 1, bias: Bool = true,
                            kernelInitializer: Initializer = .glorotUniform) {
        self.init(inputs, outputs, kernel: (kernel, kernel), stride: (stride, stride), padding: padding,
                  dilation: (dilation, dilation), groups: groups, bias: bias, kernelInitializer: kernelInitializer)
    }

    public var inputs: Int { weight.shape[2] * groups }
    public var outputs: Int { weight.shape[3] }

    /// The weight's reordered copies for inference, kept while the weight is unchanged.
    private var layoutCache: (version: UInt64, layouts: WeightLayouts)?

    /// Copies of `weight` in the layouts oneDNN's inference convolutions want, made once per
    /// weight version (a frozen or evaluated layer reorders its kernel once, not every call).
    public var inferenceLayouts: WeightLayouts {
        let version = weight.variable.version
        if let layoutCache, layoutCache.version == version { return layoutCache.layouts }
        let layouts = WeightLayouts()
        layoutCache = (version, layouts)
        return layouts
    }

    public override func forward(_ x: Variable) -> Variable {
        conv2d(x, weight.variable, bias: bias?.variable, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public override var summary: String {
        var s = "Conv2D(\(inputs)→\(outputs), \(weight.shape[0])x\(weight.shape[1])"
        if stride != (1, 1) { s += ", stride \(stride.0)" + (stride.0 == stride.1 ? "" : "x\(stride.1)") }
        s += ", \(padding)"
        if dilation != (1, 1) { s += ", dilation \(dilation.0)" }
        if groups > 1 { s += ", groups \(groups)" }
        return s + ")"
    }
}
