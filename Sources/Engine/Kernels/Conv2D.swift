import CDNNL

/// The shapes of one 2-D convolution: input NHWC `[n, h, w, cin]`, kernel HWIO
/// `[kh, kw, cin / groups, cout]`, optional bias `[cout]`, output NHWC `[n, oh, ow, cout]`
/// with `oh`, `ow` from `Window2D`. Groups split the channels as in PyTorch (output channel
/// `o` sees input channels of group `o / (cout / groups)`); dilation spaces the taps.
public struct Conv2DGeometry: Sendable {
    public let input: [Int]
    public let kernel: [Int]
    public let groups: Int
    public let window: Window2D
    public var output: [Int] { [input[0], window.output.h, window.output.w, kernel[3]] }

    public init(input: [Int], kernel: [Int], stride: (Int, Int) = (1, 1), padding: Padding = .valid,
                dilation: (Int, Int) = (1, 1), groups: Int = 1) throws {
        let op = "conv2d"
        guard input.count == 4, kernel.count == 4 else {
            throw EngineError.shapeMismatch(op: op, shapes: [input, kernel], reason: "expects an NHWC input and an HWIO kernel (rank 4 each)")
        }
        guard groups >= 1, kernel[2] * groups == input[3], kernel[3] % groups == 0 else {
            throw EngineError.shapeMismatch(op: op, shapes: [input, kernel],
                reason: "input channels \(input[3]) must equal kernel in-channels \(kernel[2]) x groups \(groups), and out-channels \(kernel[3]) must divide by the groups")
        }
        self.input = input; self.kernel = kernel; self.groups = groups
        window = try Window2D(op: op, input: (input[1], input[2]), kernel: (kernel[0], kernel[1]),
                              stride: stride, dilation: dilation, padding: padding)
    }

    var key: String { "\(input)\(kernel)g\(groups)\(window.key)" }

    var srcDesc: dnnl_memory_desc_t { memoryDescriptor([input[0], input[3], input[1], input[2]], dnnl_nhwc) }
    var dstDesc: dnnl_memory_desc_t { memoryDescriptor([output[0], output[3], output[1], output[2]], dnnl_nhwc) }
    var biasDesc: dnnl_memory_desc_t { memoryDescriptor([kernel[3]], dnnl_a) }
    /// HWIO in oneDNN's terms: OIHW dims in `hwio` order, or GOIHW dims in `hwigo` order.
    var weightsDesc: dnnl_memory_desc_t {
        let (kh, kw, i, o) = (kernel[0], kernel[1], kernel[2], kernel[3])
        return groups == 1
            ? memoryDescriptor([o, i, kh, kw], dnnl_hwio)
            : memoryDescriptor([groups, o / groups, i, kh, kw], dnnl_hwigo)
    }

    /// The weights in oneDNN's "any" layout: each primitive picks the blocked layout its
    /// fastest implementation wants, and the kernels reorder HWIO to and from it.
    var anyWeightsDesc: dnnl_memory_desc_t {
        let (kh, kw, i, o) = (kernel[0], kernel[1], kernel[2], kernel[3])
        return groups == 1
            ? memoryDescriptor([o, i, kh, kw], dnnl_format_tag_any)
            : memoryDescriptor([groups, o / groups, i, kh, kw], dnnl_format_tag_any)
    }

    func forwardPrimitive(bias: Bool) -> Primitive {
        DNNL.shared.primitive(key: "conv.fwd\(bias)" + key) {
            var desc = dnnl_convolution_desc_t()
            var src = srcDesc, wei = anyWeightsDesc, dst = dstDesc, b = biasDesc
            let w = window
            let status = bias
                ? dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, &b, &dst,
                                                             w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight)
                : dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_training, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                             w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight)
            DNNL.check(status, op: "conv2d \(key)")
            return DNNL.shared.primitive(op: "conv2d.forward", desc: &desc)
        }
    }

    func backwardDataPrimitive() -> Primitive {
        DNNL.shared.primitive(key: "conv.bwd_data" + key) {
            var desc = dnnl_convolution_desc_t()
            var src = srcDesc, wei = anyWeightsDesc, dst = dstDesc
            let w = window
            DNNL.check(dnnl_dilated_convolution_backward_data_desc_init(&desc, dnnl_convolution_direct, &src, &wei, &dst,
                                                                        w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight),
                       op: "conv2d backward data \(key)")
            return DNNL.shared.primitive(op: "conv2d.backward_data", desc: &desc, hint: forwardPrimitive(bias: false))
        }
    }

    func backwardWeightsPrimitive(bias: Bool) -> Primitive {
        DNNL.shared.primitive(key: "conv.bwd_weights\(bias)" + key) {
            var desc = dnnl_convolution_desc_t()
            var src = srcDesc, wei = anyWeightsDesc, dst = dstDesc, b = biasDesc
            let w = window
            let status = bias
                ? dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &wei, &b, &dst,
                                                                      w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight)
                : dnnl_dilated_convolution_backward_weights_desc_init(&desc, dnnl_convolution_direct, &src, &wei, nil, &dst,
                                                                      w.dnnlStrides, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight)
            DNNL.check(status, op: "conv2d backward weights \(key)")
            return DNNL.shared.primitive(op: "conv2d.backward_weights", desc: &desc, hint: forwardPrimitive(bias: bias))
        }
    }
}

extension Conv2DGeometry {
    /// Calls `body` with the kernel `w` (HWIO) laid out as `prim` wants (`query`: its
    /// weights descriptor), reordering into a temporary buffer when the layouts differ, or
    /// into `cache` once (whose owner guarantees `w` has not changed since).
    func withWeights<R>(_ w: UnsafeBufferPointer<Float>, for prim: Primitive, _ query: dnnl_query_t,
                        cache: WeightLayouts? = nil,
                        _ body: (dnnl_memory_desc_t, UnsafeMutableRawPointer) -> R) -> R {
        let wanted = prim.memoryDescriptor(query)!
        if sameLayout(wanted, weightsDesc) { return body(weightsDesc, rawInput(w)) }
        let reorderKey = "w\(prim.op)" + key
        if let cache {
            let copy = cache.copy(layout: wanted) {
                reorder(from: weightsDesc, to: wanted, key: reorderKey, rawInput(w), $0)
            }
            return withExtendedLifetime(copy) { body(wanted, copy.bytes) }
        }
        var buffer = [UInt8](unsafeUninitializedCapacity: byteSize(wanted)) { $1 = $0.count }
        return buffer.withUnsafeMutableBytes { raw in
            reorder(from: weightsDesc, to: wanted, key: reorderKey, rawInput(w), raw.baseAddress!)
            return body(wanted, raw.baseAddress!)
        }
    }
}

extension Conv2DGeometry {
    /// Runs the forward primitive `prim` on `x`, the HWIO kernel `w` and `bias`, writing `y`
    /// (which post-ops such as sum may also read); `layouts` keeps the reordered kernel.
    func runForward(_ prim: Primitive, _ x: Tensor, _ w: Tensor, bias: Tensor?, layouts: WeightLayouts? = nil,
                    into y: inout Tensor) {
        x.withUnsafeBufferPointer { px in
            w.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    withWeights(pw, for: prim, dnnl_query_weights_md, cache: layouts) { weightsDesc, weights in
                        prim.execute([(Arg.src, srcDesc, rawInput(px)), (Arg.weights, weightsDesc, weights),
                                      (Arg.dst, dstDesc, UnsafeMutableRawPointer(py.baseAddress!))], bias: bias, biasDesc: biasDesc)
                    }
                }
            }
        }
    }
}

extension Kernels {
    /// 2-D convolution (cross-correlation, as in every framework) on oneDNN.
    public static func conv2d(_ x: Tensor, _ w: Tensor, bias: Tensor?, geometry g: Conv2DGeometry) -> Tensor {
        ensure(x.shape == g.input && w.shape == g.kernel, "conv2d: tensors \(x.shape), \(w.shape) differ from geometry \(g.input), \(g.kernel)")
        if let bias, bias.shape != [g.kernel[3]] {
            EngineError.shapeMismatch(op: "conv2d", shapes: [w.shape, bias.shape], reason: "bias must be [\(g.kernel[3])]").trap()
        }
        if let pointwise = StridedPointwise(g) {
            return conv2d(pointwise.gather(x), w, bias: bias, geometry: pointwise.unit)
        }
        KernelStats.record("conv2d.forward")
        if let patch = PatchConvolution(g) { return patch.forward(x, w, bias: bias) }
        var y = Tensor.uninitialized(g.output)
        g.runForward(g.forwardPrimitive(bias: bias != nil), x, w, bias: bias, into: &y)
        return y
    }

    /// The gradient with respect to the convolution's input.
    public static func conv2dBackwardData(_ dy: Tensor, _ w: Tensor, geometry g: Conv2DGeometry) -> Tensor {
        ensure(dy.shape == g.output && w.shape == g.kernel,
               "conv2d backward: gradient \(dy.shape) and kernel \(w.shape) differ from the geometry \(g.output), \(g.kernel)")
        if let pointwise = StridedPointwise(g) {
            return pointwise.scatter(conv2dBackwardData(dy, w, geometry: pointwise.unit))
        }
        KernelStats.record("conv2d.backward_data")
        if let patch = PatchConvolution(g) { return patch.backwardData(dy, w) }
        let prim = g.backwardDataPrimitive()
        var dx = Tensor.uninitialized(g.input)
        dy.withUnsafeBufferPointer { pdy in
            w.withUnsafeBufferPointer { pw in
                dx.withUnsafeMutableBufferPointer { pdx in
                    g.withWeights(pw, for: prim, dnnl_query_weights_md) { weightsDesc, weights in
                        prim.execute([(Arg.diffDst, g.dstDesc, rawInput(pdy)), (Arg.weights, weightsDesc, weights),
                                      (Arg.diffSrc, g.srcDesc, UnsafeMutableRawPointer(pdx.baseAddress!))])
                    }
                }
            }
        }
        return dx
    }

    /// The gradients with respect to the kernel and (when `bias`) the bias.
    public static func conv2dBackwardWeights(_ x: Tensor, _ dy: Tensor, bias: Bool, geometry g: Conv2DGeometry) -> (kernel: Tensor, bias: Tensor?) {
        ensure(dy.shape == g.output && x.shape == g.input, "conv2d backward: shapes \(x.shape), \(dy.shape) differ from the geometry")
        if let pointwise = StridedPointwise(g) {
            return conv2dBackwardWeights(pointwise.gather(x), dy, bias: bias, geometry: pointwise.unit)
        }
        KernelStats.record("conv2d.backward_weights")
        if let patch = PatchConvolution(g) { return patch.backwardWeights(x, dy, bias: bias) }
        let prim = g.backwardWeightsPrimitive(bias: bias)
        var dw = Tensor.uninitialized(g.kernel)
        var db = Tensor.uninitialized([g.kernel[3]])
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                dw.withUnsafeMutableBufferPointer { pdw in
                    db.withUnsafeMutableBufferPointer { pdb in
                        // The gradient comes out in the primitive's layout; reorder it to HWIO.
                        let produced = prim.memoryDescriptor(dnnl_query_diff_weights_md)!
                        let direct = sameLayout(produced, g.weightsDesc)
                        var buffer = [UInt8](unsafeUninitializedCapacity: direct ? 0 : byteSize(produced)) { $1 = $0.count }
                        buffer.withUnsafeMutableBytes { raw in
                            let target = direct ? UnsafeMutableRawPointer(pdw.baseAddress!) : raw.baseAddress!
                            var args = [(Arg.src, g.srcDesc, rawInput(px)), (Arg.diffDst, g.dstDesc, rawInput(pdy)),
                                        (Arg.diffWeights, direct ? g.weightsDesc : produced, target)]
                            if bias { args.append((Arg.diffBias, g.biasDesc, UnsafeMutableRawPointer(pdb.baseAddress!))) }
                            prim.execute(args)
                            if !direct { reorder(from: produced, to: g.weightsDesc, key: "dw" + g.key, target, UnsafeMutableRawPointer(pdw.baseAddress!)) }
                        }
                    }
                }
            }
        }
        return (dw, bias ? db : nil)
    }
}

/// Namespace of the compute kernels. Each runs on oneDNN (or a plain Swift loop where
/// oneDNN has no primitive) and records its name in `KernelStats`.
public enum Kernels {}
