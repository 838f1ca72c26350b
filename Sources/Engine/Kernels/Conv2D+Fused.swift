import CDNNL

extension Conv2DGeometry {
    /// The inference convolution with `postOps` (no backward pass will use it).
    func inferencePrimitive(bias: Bool, postOps: PostOps) -> Primitive {
        DNNL.shared.primitive(key: "conv.inference\(bias)\(postOps.key)" + key) {
            var desc = dnnl_convolution_desc_t()
            var src = srcDesc
            var wei = anyWeightsDesc
            var dst = dstDesc
            var b = biasDesc
            let w = window
            let status = withUnsafeMutablePointer(to: &b) { biasPointer in
                dnnl_dilated_convolution_forward_desc_init(
                    &desc, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei, bias ? biasPointer : nil,
                    &dst, w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight)
            }
            DNNL.check(status, op: "conv2d inference \(key)")
            return DNNL.shared.primitive(op: "conv2d.inference", desc: &desc, postOps: postOps)
        }
    }
}

extension Kernels {
    /// `max(conv2d(x, w) + bias + residual, 0)` (the ReLU when `relu`, the residual when
    /// given) in one oneDNN convolution for inference: the residual add and the ReLU are
    /// post-ops (sum, eltwise) applied while the convolution writes its output, so neither
    /// makes a pass of its own. NHWC `x` and `residual` (the output's shape), HWIO `w`.
    /// `layouts`, when given, keeps `w` reordered for oneDNN across calls: pass one only while
    /// `w` is unchanged. No gradient: for frozen or evaluated layers only.
    public static func conv2d(
        _ x: Tensor, _ w: Tensor, bias: Tensor?, geometry g: Conv2DGeometry, adding residual: Tensor?, relu: Bool,
        layouts: WeightLayouts? = nil
    ) -> Tensor {
        if let residual, residual.shape != g.output {
            EngineError.shapeMismatch(
                op: "conv2d + residual", shapes: [g.output, residual.shape],
                reason: "the residual must have the convolution's output shape"
            ).trap()
        }
        if let pointwise = StridedPointwise(g) {
            return conv2d(
                pointwise.gather(x), w, bias: bias, geometry: pointwise.unit, adding: residual, relu: relu,
                layouts: layouts)
        }
        if PatchConvolution(g) != nil {
            // The patch product has no post-ops: the residual and the ReLU follow it.
            var y = conv2d(x, w, bias: bias, geometry: g)
            y.addAndClamp(residual, relu: relu)
            return y
        }
        ensure(x.shape == g.input && w.shape == g.kernel, "conv2d: tensors \(x.shape), \(w.shape) differ from \(g.key)")
        KernelStats.record("conv2d.forward")
        let prim = g.inferencePrimitive(bias: bias != nil, postOps: PostOps(sum: residual != nil, relu: relu))
        // The sum post-op adds what the destination holds: start it as (a copy of) the residual.
        var y = residual ?? Tensor.uninitialized(g.output)
        g.runForward(prim, x, w, bias: bias, layouts: layouts, into: &y)
        return y
    }
}

extension Tensor {
    /// In place `self = max(self + residual, 0)` (each part optional).
    mutating func addAndClamp(_ residual: Tensor?, relu: Bool) {
        guard residual != nil || relu else { return }
        withUnsafeMutableBufferPointer { py in
            if let residual {
                residual.withUnsafeBufferPointer { pr in
                    for i in py.indices { py[i] += pr[i] }
                }
            }
            if relu {
                for i in py.indices { py[i] = Swift.max(py[i], 0) }
            }
        }
    }
}

extension Kernels {
    /// The fused inference convolution with its geometry from the window parameters (as
    /// `conv2d(_:_:bias:stride:padding:dilation:groups:)` takes them); stops with a message
    /// naming the shapes when they do not fit.
    public static func conv2d(
        _ x: Tensor, _ w: Tensor, bias: Tensor?, stride: (Int, Int), padding: Padding, dilation: (Int, Int),
        groups: Int, adding residual: Tensor?, relu: Bool, layouts: WeightLayouts? = nil
    ) -> Tensor {
        let g = require {
            try Conv2DGeometry(
                input: x.shape, kernel: w.shape, stride: stride, padding: padding, dilation: dilation, groups: groups)
        }
        return conv2d(x, w, bias: bias, geometry: g, adding: residual, relu: relu, layouts: layouts)
    }
}
