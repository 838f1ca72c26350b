import CDNNL

/// Batch normalisation (Ioffe & Szegedy, 2015) over the last (channel) axis of an NHWC
/// `[n, h, w, c]` or a `[n, c]` input: `y = gamma * (x - mean) / sqrt(var + eps) + beta`.
/// Training mode normalises with the batch's mean and biased variance; inference mode with
/// the given running statistics.
struct BatchNormGeometry {
    let shape: [Int]
    let channels: Int
    let epsilon: Float
    let useGlobalStats: Bool
    /// Whether a ReLU follows inside the primitive (oneDNN's `fuse_norm_relu`: the forward
    /// pass keeps a bit mask in its workspace, the backward pass masks the gradient with it).
    var relu = false

    init(shape: [Int], epsilon: Float, useGlobalStats: Bool, relu: Bool = false) {
        guard shape.count == 2 || shape.count == 4 else {
            EngineError.shapeMismatch(op: "batchNorm", shapes: [shape], reason: "expects [n, c] or NHWC [n, h, w, c]").trap()
        }
        self.shape = shape
        channels = shape.last!
        self.epsilon = epsilon
        self.useGlobalStats = useGlobalStats
        self.relu = relu
    }

    var dataDesc: dnnl_memory_desc_t {
        shape.count == 4
            ? memoryDescriptor([shape[0], shape[3], shape[1], shape[2]], dnnl_nhwc)
            : memoryDescriptor([shape[0], shape[1], 1, 1], dnnl_nhwc)
    }
    var channelDesc: dnnl_memory_desc_t { memoryDescriptor([channels], dnnl_a) }
    var flags: UInt32 {
        dnnl_use_scale.rawValue | dnnl_use_shift.rawValue | (useGlobalStats ? dnnl_use_global_stats.rawValue : 0)
            | (relu ? dnnl_fuse_norm_relu.rawValue : 0)
    }
    var key: String { "bn\(shape)e\(epsilon)g\(useGlobalStats)r\(relu)" }

    func forwardPrimitive() -> Primitive {
        DNNL.shared.primitive(key: "bn.fwd" + key) {
            var desc = dnnl_batch_normalization_desc_t()
            var data = dataDesc
            DNNL.check(dnnl_batch_normalization_forward_desc_init(&desc, dnnl_forward_training, &data, epsilon, flags), op: "batchNorm \(key)")
            return DNNL.shared.primitive(op: "batchNorm.forward", desc: &desc)
        }
    }

    func backwardPrimitive() -> Primitive {
        DNNL.shared.primitive(key: "bn.bwd" + key) {
            var desc = dnnl_batch_normalization_desc_t()
            var data = dataDesc, diff = dataDesc
            DNNL.check(dnnl_batch_normalization_backward_desc_init(&desc, dnnl_backward, &diff, &data, epsilon, flags),
                       op: "batchNorm backward \(key)")
            return DNNL.shared.primitive(op: "batchNorm.backward", desc: &desc, hint: forwardPrimitive())
        }
    }
}

extension Kernels {
    /// Batch normalisation forward. In training mode (`runningMean == nil`) it returns the
    /// batch mean and biased variance it used; in inference mode it uses the given statistics.
    public static func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor?, variance: Tensor?,
                                 epsilon: Float) -> (output: Tensor, mean: Tensor, variance: Tensor) {
        let r = batchNorm(x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon, relu: false)
        return (r.output, r.mean, r.variance)
    }

    /// Batch normalisation forward, followed by a ReLU in the same pass when `relu`; the
    /// workspace holds the ReLU's mask for `batchNormBackward` (empty without the ReLU).
    static func batchNorm(
        _ x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor?, variance: Tensor?, epsilon: Float, relu: Bool
    ) -> (output: Tensor, mean: Tensor, variance: Tensor, workspace: [UInt8]) {
        let global = mean != nil
        let g = BatchNormGeometry(shape: x.shape, epsilon: epsilon, useGlobalStats: global, relu: relu)
        for (name, t) in [("gamma", gamma), ("beta", beta)] + (global ? [("mean", mean!), ("variance", variance!)] : []) where t.shape != [g.channels] {
            EngineError.shapeMismatch(op: "batchNorm", shapes: [x.shape, t.shape], reason: "\(name) must be [\(g.channels)], one value per channel").trap()
        }
        KernelStats.record("batchNorm.forward")
        let prim = g.forwardPrimitive()
        var y = Tensor.uninitialized(x.shape)
        var m = mean ?? Tensor.zeros([g.channels]), v = variance ?? Tensor.zeros([g.channels])
        let workspaceDesc = relu ? prim.memoryDescriptor(dnnl_query_workspace_md) : nil
        var workspace = [UInt8](unsafeUninitializedCapacity: relu ? prim.workspaceBytes : 0) { $1 = $0.count }
        x.withUnsafeBufferPointer { px in
            gamma.withUnsafeBufferPointer { pg in
                beta.withUnsafeBufferPointer { pb in
                    y.withUnsafeMutableBufferPointer { py in
                        m.withUnsafeMutableBufferPointer { pm in
                            v.withUnsafeMutableBufferPointer { pv in
                                workspace.withUnsafeMutableBytes { pw in
                                    var args = [(Arg.src, g.dataDesc, rawInput(px)), (Arg.dst, g.dataDesc, UnsafeMutableRawPointer(py.baseAddress!)),
                                                (Arg.scale, g.channelDesc, rawInput(pg)), (Arg.shift, g.channelDesc, rawInput(pb)),
                                                (Arg.mean, g.channelDesc, UnsafeMutableRawPointer(pm.baseAddress!)),
                                                (Arg.variance, g.channelDesc, UnsafeMutableRawPointer(pv.baseAddress!))]
                                    if let workspaceDesc { args.append((Arg.workspace, workspaceDesc, pw.baseAddress!)) }
                                    prim.execute(args)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (y, m, v, workspace)
    }

    /// Batch normalisation backward: gradients for the input, gamma and beta. `mean` and
    /// `variance` are the statistics the forward pass used; `inference` says whether they
    /// were running statistics (then they are constants and the input gradient is a scaling). oneDNN reads `beta` too, though the
    /// gradients do not depend on it.
    public static func batchNormBackward(_ dy: Tensor, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor,
                                         epsilon: Float, inference: Bool) -> (input: Tensor, gamma: Tensor, beta: Tensor) {
        batchNormBackward(
            dy, x: x, gamma: gamma, beta: beta, mean: mean, variance: variance, epsilon: epsilon, inference: inference,
            reluMask: nil)
    }

    /// The backward pass of `batchNorm(_:gamma:beta:mean:variance:epsilon:relu:)`; with the
    /// forward pass's ReLU mask (its workspace), `dy` is the gradient of the ReLU's output.
    static func batchNormBackward(
        _ dy: Tensor, x: Tensor, gamma: Tensor, beta: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
        inference: Bool, reluMask: [UInt8]?
    ) -> (input: Tensor, gamma: Tensor, beta: Tensor) {
        let g = BatchNormGeometry(shape: x.shape, epsilon: epsilon, useGlobalStats: inference, relu: reluMask != nil)
        ensure(dy.shape == x.shape && [gamma, beta, mean, variance].allSatisfy { $0.shape == [g.channels] },
               "batchNorm backward: gradient \(dy.shape) must match the input \(x.shape) and the statistics must be [\(g.channels)]")
        KernelStats.record("batchNorm.backward")
        let prim = g.backwardPrimitive()
        var dx = Tensor.uninitialized(x.shape), dgamma = Tensor.zeros([g.channels]), dbeta = Tensor.zeros([g.channels])
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                gamma.withUnsafeBufferPointer { pg in
                  beta.withUnsafeBufferPointer { pb in
                    mean.withUnsafeBufferPointer { pm in
                        variance.withUnsafeBufferPointer { pv in
                            dx.withUnsafeMutableBufferPointer { pdx in
                                dgamma.withUnsafeMutableBufferPointer { pdg in
                                    dbeta.withUnsafeMutableBufferPointer { pdb in
                                        var args = [(Arg.src, g.dataDesc, rawInput(px)), (Arg.diffDst, g.dataDesc, rawInput(pdy)),
                                                    (Arg.scale, g.channelDesc, rawInput(pg)), (Arg.shift, g.channelDesc, rawInput(pb)),
                                                    (Arg.mean, g.channelDesc, rawInput(pm)), (Arg.variance, g.channelDesc, rawInput(pv)),
                                                    (Arg.diffSrc, g.dataDesc, UnsafeMutableRawPointer(pdx.baseAddress!)),
                                                    (Arg.diffScale, g.channelDesc, UnsafeMutableRawPointer(pdg.baseAddress!)),
                                                    (Arg.diffShift, g.channelDesc, UnsafeMutableRawPointer(pdb.baseAddress!))]
                                        guard let reluMask else { return prim.execute(args) }
                                        reluMask.withUnsafeBytes { pw in
                                            let md = prim.memoryDescriptor(dnnl_query_workspace_md)!
                                            args.append((Arg.workspace, md, UnsafeMutableRawPointer(mutating: pw.baseAddress!)))
                                            prim.execute(args)
                                        }
                                    }
                                }
                            }
                        }
                    }
                  }
                }
            }
        }
        return (dx, dgamma, dbeta)
    }
}

extension Kernels {
    /// PyTorch's running-statistics update after a training step:
    /// `running = (1 - momentum) * running + momentum * batch`, where the batch variance is
    /// made unbiased (`var * m / (m - 1)`, `m` the number of values per channel).
    public static func updateRunningStatistics(mean running: inout Tensor, variance runningVar: inout Tensor,
                                               batchMean: Tensor, batchVariance: Tensor, valuesPerChannel m: Int,
                                               momentum: Float) {
        let unbias = m > 1 ? Float(m) / Float(m - 1) : 1
        running = running * (1 - momentum) + batchMean * momentum
        runningVar = runningVar * (1 - momentum) + batchVariance * (momentum * unbias)
    }
}
