import CDNNL

/// Max or average pooling over NHWC `[n, h, w, c]` windows. Average pooling excludes padded
/// cells from the divisor (Keras; PyTorch's `count_include_pad=False`); max pooling treats
/// them as -infinity.
public struct Pool2DGeometry: Sendable {
    public enum Kind: String, Sendable { case max, average }
    public let kind: Kind
    public let input: [Int]
    public let window: Window2D
    public var output: [Int] { [input[0], window.output.h, window.output.w, input[3]] }

    public init(_ kind: Kind, input: [Int], pool: (Int, Int), stride: (Int, Int), padding: Padding = .valid) throws {
        guard input.count == 4 else {
            throw EngineError.shapeMismatch(op: "\(kind.rawValue)Pool2D", shapes: [input], reason: "expects an NHWC input of rank 4")
        }
        self.kind = kind
        self.input = input
        window = try Window2D(op: "\(kind.rawValue)Pool2D", input: (input[1], input[2]), kernel: pool, stride: stride, padding: padding)
    }

    var key: String { "\(kind)\(input)\(window.key)" }
    var algorithm: dnnl_alg_kind_t { kind == .max ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding }
    var srcDesc: dnnl_memory_desc_t { memoryDescriptor([input[0], input[3], input[1], input[2]], dnnl_nhwc) }
    var dstDesc: dnnl_memory_desc_t { memoryDescriptor([output[0], output[3], output[1], output[2]], dnnl_nhwc) }
    var kernelDims: [Int64] { [Int64(window.kernel.h), Int64(window.kernel.w)] }

    func forwardPrimitive(training: Bool) -> Primitive {
        DNNL.shared.primitive(key: "pool.fwd\(training)" + key) {
            var desc = dnnl_pooling_v2_desc_t()
            var src = srcDesc, dst = dstDesc
            let w = window
            DNNL.check(dnnl_pooling_v2_forward_desc_init(&desc, training ? dnnl_forward_training : dnnl_forward_inference, algorithm,
                                                         &src, &dst, w.dnnlStrides, kernelDims, w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight),
                       op: "pool2d \(key)")
            return DNNL.shared.primitive(op: "pool2d.forward", desc: &desc)
        }
    }

    func backwardPrimitive() -> Primitive {
        DNNL.shared.primitive(key: "pool.bwd" + key) {
            var desc = dnnl_pooling_v2_desc_t()
            var src = srcDesc, dst = dstDesc
            let w = window
            DNNL.check(dnnl_pooling_v2_backward_desc_init(&desc, algorithm, &src, &dst, w.dnnlStrides, kernelDims,
                                                          w.dnnlDilation, w.dnnlPadLeft, w.dnnlPadRight),
                       op: "pool2d backward \(key)")
            return DNNL.shared.primitive(op: "pool2d.backward", desc: &desc, hint: forwardPrimitive(training: true))
        }
    }
}

/// What max pooling's backward pass needs from its forward pass: oneDNN's record of the
/// arg-max positions (opaque bytes).
public struct PoolWorkspace: Sendable {
    var bytes: [UInt8]
}

extension Kernels {
    /// Pooling forward. With `training`, also returns the workspace the backward pass needs.
    public static func pool2d(_ x: Tensor, geometry g: Pool2DGeometry, training: Bool) -> (output: Tensor, workspace: PoolWorkspace?) {
        ensure(x.shape == g.input, "pool2d: input \(x.shape) differs from geometry \(g.input)")
        KernelStats.record("\(g.kind)Pool2D.forward")
        let prim = g.forwardPrimitive(training: training)
        var y = Tensor.uninitialized(g.output)
        var ws = [UInt8](repeating: 0, count: training ? max(prim.workspaceBytes, 1) : 0)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                ws.withUnsafeMutableBytes { pws in
                    var args = [(Arg.src, g.srcDesc, rawInput(px)), (Arg.dst, g.dstDesc, UnsafeMutableRawPointer(py.baseAddress!))]
                    if training, prim.workspaceBytes > 0, let wsd = prim.memoryDescriptor(dnnl_query_workspace_md) {
                        args.append((Arg.workspace, wsd, pws.baseAddress!))
                    }
                    prim.execute(args)
                }
            }
        }
        return (y, training ? PoolWorkspace(bytes: ws) : nil)
    }

    /// Pooling backward: routes `dy` to the arg-max cells (max) or spreads it over each
    /// window's real cells (average).
    public static func pool2dBackward(_ dy: Tensor, workspace: PoolWorkspace?, geometry g: Pool2DGeometry) -> Tensor {
        ensure(dy.shape == g.output, "pool2d backward: gradient \(dy.shape) differs from output \(g.output)")
        KernelStats.record("\(g.kind)Pool2D.backward")
        let prim = g.backwardPrimitive()
        var dx = Tensor.uninitialized(g.input)
        var ws = workspace?.bytes ?? []
        dy.withUnsafeBufferPointer { pdy in
            dx.withUnsafeMutableBufferPointer { pdx in
                ws.withUnsafeMutableBytes { pws in
                    var args = [(Arg.diffDst, g.dstDesc, rawInput(pdy)), (Arg.diffSrc, g.srcDesc, UnsafeMutableRawPointer(pdx.baseAddress!))]
                    if g.kind == .max {
                        let fwd = g.forwardPrimitive(training: true)
                        guard let wsd = fwd.memoryDescriptor(dnnl_query_workspace_md), pws.count >= fwd.workspaceBytes, pws.count > 0 else {
                            fatalError("maxPool2D backward: the forward pass ran without a workspace (inference mode)")
                        }
                        args.append((Arg.workspace, wsd, pws.baseAddress!))
                    }
                    prim.execute(args)
                }
            }
        }
        return dx
    }

    /// The mean over height and width: NHWC `[n, h, w, c]` -> `[n, c]`.
    public static func globalAvgPool(_ x: Tensor) -> Tensor {
        ensure(x.rank == 4, "globalAvgPool: expects an NHWC input of rank 4, got \(x.shape)")
        KernelStats.record("globalAvgPool.forward")
        return x.mean(axes: [1, 2])
    }

    /// The backward of `globalAvgPool`: `dy / (h·w)` spread over every cell.
    public static func globalAvgPoolBackward(_ dy: Tensor, inputShape: [Int]) -> Tensor {
        ensure(inputShape.count == 4 && dy.shape == [inputShape[0], inputShape[3]],
               "globalAvgPool backward: gradient \(dy.shape) does not fit input \(inputShape)")
        KernelStats.record("globalAvgPool.backward")
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        let scale = 1 / Float(h * w)
        return dy.withUnsafeBufferPointer { g in
            Tensor(shape: inputShape) { dst in
                for b in 0..<n {
                    for p in 0..<(h * w) {
                        for ch in 0..<c { dst[(b * h * w + p) * c + ch] = g[b * c + ch] * scale }
                    }
                }
            }
        }
    }
}
