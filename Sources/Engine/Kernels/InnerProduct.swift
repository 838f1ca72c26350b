import CDNNL

/// A fully connected layer's shapes: input `[n, in]`, kernel `[in, out]` (Keras layout),
/// optional bias `[out]`, output `[n, out]`.
struct InnerProductGeometry {
    let batch: Int, inputs: Int, outputs: Int

    init(input: [Int], kernel: [Int]) {
        guard input.count == 2, kernel.count == 2, input[1] == kernel[0] else {
            EngineError.shapeMismatch(op: "linear", shapes: [input, kernel],
                                      reason: "expects input [n, in] and kernel [in, out] with matching 'in'").trap()
        }
        batch = input[0]; inputs = input[1]; outputs = kernel[1]
    }

    var key: String { "ip\(batch),\(inputs),\(outputs)" }
    var srcDesc: dnnl_memory_desc_t { memoryDescriptor([batch, inputs], dnnl_nc) }
    var dstDesc: dnnl_memory_desc_t { memoryDescriptor([batch, outputs], dnnl_nc) }
    /// oneDNN's weights are logically [out, in]; `io` stores them as Keras's [in, out].
    var weightsDesc: dnnl_memory_desc_t { memoryDescriptor([outputs, inputs], dnnl_io) }
    var biasDesc: dnnl_memory_desc_t { memoryDescriptor([outputs], dnnl_a) }

    func forwardPrimitive(bias: Bool) -> Primitive {
        DNNL.shared.primitive(key: "ip.fwd\(bias)" + key) {
            var desc = dnnl_inner_product_desc_t()
            var src = srcDesc, wei = weightsDesc, dst = dstDesc, b = biasDesc
            let status = bias
                ? dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_training, &src, &wei, &b, &dst)
                : dnnl_inner_product_forward_desc_init(&desc, dnnl_forward_training, &src, &wei, nil, &dst)
            DNNL.check(status, op: "linear \(key)")
            return DNNL.shared.primitive(op: "linear.forward", desc: &desc)
        }
    }
}

extension Kernels {
    /// `x · w + b` on oneDNN's inner product primitive.
    public static func linear(_ x: Tensor, _ w: Tensor, bias: Tensor?) -> Tensor {
        let g = InnerProductGeometry(input: x.shape, kernel: w.shape)
        if let bias, bias.shape != [g.outputs] {
            EngineError.shapeMismatch(op: "linear", shapes: [w.shape, bias.shape], reason: "bias must be [\(g.outputs)]").trap()
        }
        KernelStats.record("linear.forward")
        let prim = g.forwardPrimitive(bias: bias != nil)
        var y = Tensor.uninitialized([g.batch, g.outputs])
        x.withUnsafeBufferPointer { px in
            w.withUnsafeBufferPointer { pw in
                y.withUnsafeMutableBufferPointer { py in
                    prim.execute([(Arg.src, g.srcDesc, rawInput(px)), (Arg.weights, g.weightsDesc, rawInput(pw)),
                                  (Arg.dst, g.dstDesc, UnsafeMutableRawPointer(py.baseAddress!))], bias: bias, biasDesc: g.biasDesc)
                }
            }
        }
        return y
    }

    /// `dy · wᵀ`: the input gradient of `linear`.
    public static func linearBackwardData(_ dy: Tensor, _ w: Tensor) -> Tensor {
        ensure(dy.rank == 2 && w.rank == 2 && dy.shape[1] == w.shape[1],
               "linear backward: gradient \(dy.shape) does not fit kernel \(w.shape)")
        let g = InnerProductGeometry(input: [dy.shape[0], w.shape[0]], kernel: w.shape)
        KernelStats.record("linear.backward_data")
        let prim = DNNL.shared.primitive(key: "ip.bwd_data" + g.key) {
            var desc = dnnl_inner_product_desc_t()
            var src = g.srcDesc, wei = g.weightsDesc, dst = g.dstDesc
            DNNL.check(dnnl_inner_product_backward_data_desc_init(&desc, &src, &wei, &dst), op: "linear backward data \(g.key)")
            return DNNL.shared.primitive(op: "linear.backward_data", desc: &desc, hint: g.forwardPrimitive(bias: false))
        }
        var dx = Tensor.uninitialized([g.batch, g.inputs])
        dy.withUnsafeBufferPointer { pdy in
            w.withUnsafeBufferPointer { pw in
                dx.withUnsafeMutableBufferPointer { pdx in
                    prim.execute([(Arg.diffDst, g.dstDesc, rawInput(pdy)), (Arg.weights, g.weightsDesc, rawInput(pw)),
                                  (Arg.diffSrc, g.srcDesc, UnsafeMutableRawPointer(pdx.baseAddress!))])
                }
            }
        }
        return dx
    }

    /// `xᵀ · dy` and the column sums of `dy`: the kernel and bias gradients of `linear`.
    public static func linearBackwardWeights(_ x: Tensor, _ dy: Tensor, bias: Bool) -> (kernel: Tensor, bias: Tensor?) {
        ensure(x.rank == 2 && dy.rank == 2 && x.shape[0] == dy.shape[0],
               "linear backward: input \(x.shape) and gradient \(dy.shape) must be [n, in] and [n, out]")
        let g = InnerProductGeometry(input: x.shape, kernel: [x.shape[1], dy.shape[1]])
        KernelStats.record("linear.backward_weights")
        let prim = DNNL.shared.primitive(key: "ip.bwd_weights\(bias)" + g.key) {
            var desc = dnnl_inner_product_desc_t()
            var src = g.srcDesc, wei = g.weightsDesc, dst = g.dstDesc, b = g.biasDesc
            let status = bias
                ? dnnl_inner_product_backward_weights_desc_init(&desc, &src, &wei, &b, &dst)
                : dnnl_inner_product_backward_weights_desc_init(&desc, &src, &wei, nil, &dst)
            DNNL.check(status, op: "linear backward weights \(g.key)")
            return DNNL.shared.primitive(op: "linear.backward_weights", desc: &desc, hint: g.forwardPrimitive(bias: bias))
        }
        var dw = Tensor.uninitialized([g.inputs, g.outputs]), db = Tensor.uninitialized([g.outputs])
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                dw.withUnsafeMutableBufferPointer { pdw in
                    db.withUnsafeMutableBufferPointer { pdb in
                        var args = [(Arg.src, g.srcDesc, rawInput(px)), (Arg.diffDst, g.dstDesc, rawInput(pdy)),
                                    (Arg.diffWeights, g.weightsDesc, UnsafeMutableRawPointer(pdw.baseAddress!))]
                        if bias { args.append((Arg.diffBias, g.biasDesc, UnsafeMutableRawPointer(pdb.baseAddress!))) }
                        prim.execute(args)
                    }
                }
            }
        }
        return (dw, bias ? db : nil)
    }
}
