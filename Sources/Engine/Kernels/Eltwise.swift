import CDNNL
import Foundation

/// Pointwise activations on oneDNN's eltwise primitive (layout-agnostic: any shape).
public enum Activation: Equatable, Sendable {
    /// `max(x, 0)`.
    case relu
    /// `x` for `x > 0`, else `alpha * x` (Maas et al., 2013).
    case leakyReLU(alpha: Float)
    /// `x` for `x > 0`, else `alpha * (exp(x) - 1)` (Clevert et al., 2015).
    case elu(alpha: Float)
    /// `1 / (1 + exp(-x))`.
    case sigmoid
    /// `tanh(x)`.
    case tanh

    var name: String {
        switch self {
        case .relu: return "relu"
        case .leakyReLU: return "leakyReLU"
        case .elu: return "elu"
        case .sigmoid: return "sigmoid"
        case .tanh: return "tanh"
        }
    }

    var dnnl: (alg: dnnl_alg_kind_t, alpha: Float) {
        switch self {
        case .relu: return (dnnl_eltwise_relu, 0)
        case let .leakyReLU(alpha): return (dnnl_eltwise_relu, alpha)
        case let .elu(alpha): return (dnnl_eltwise_elu, alpha)
        case .sigmoid: return (dnnl_eltwise_logistic, 0)
        case .tanh: return (dnnl_eltwise_tanh, 0)
        }
    }
}

extension Kernels {
    private static func eltwiseForwardPrimitive(_ a: Activation, count: Int) -> Primitive {
        DNNL.shared.primitive(key: "eltwise.fwd\(a)\(count)") {
            var desc = dnnl_eltwise_desc_t()
            var data = memoryDescriptor([count], dnnl_a)
            DNNL.check(dnnl_eltwise_forward_desc_init(&desc, dnnl_forward_training, a.dnnl.alg, &data, a.dnnl.alpha, 0), op: a.name)
            return DNNL.shared.primitive(op: "\(a.name).forward", desc: &desc)
        }
    }

    /// Applies the activation elementwise.
    public static func activation(_ x: Tensor, _ a: Activation) -> Tensor {
        KernelStats.record("\(a.name).forward")
        guard x.count > 0 else { return x }
        let prim = eltwiseForwardPrimitive(a, count: x.count)
        let md = memoryDescriptor([x.count], dnnl_a)
        var y = Tensor.uninitialized(x.shape)
        x.withUnsafeBufferPointer { px in
            y.withUnsafeMutableBufferPointer { py in
                prim.execute([(Arg.src, md, rawInput(px)), (Arg.dst, md, UnsafeMutableRawPointer(py.baseAddress!))])
            }
        }
        return y
    }

    /// The activation's input gradient, from its input `x` and the output gradient `dy`.
    public static func activationBackward(_ dy: Tensor, x: Tensor, _ a: Activation) -> Tensor {
        ensure(dy.shape == x.shape, "\(a.name) backward: gradient \(dy.shape) differs from the input \(x.shape)")
        KernelStats.record("\(a.name).backward")
        guard x.count > 0 else { return dy }
        let count = x.count
        let prim = DNNL.shared.primitive(key: "eltwise.bwd\(a)\(count)") {
            var desc = dnnl_eltwise_desc_t()
            var data = memoryDescriptor([count], dnnl_a), diff = memoryDescriptor([count], dnnl_a)
            DNNL.check(dnnl_eltwise_backward_desc_init(&desc, a.dnnl.alg, &diff, &data, a.dnnl.alpha, 0), op: a.name + " backward")
            return DNNL.shared.primitive(op: "\(a.name).backward", desc: &desc, hint: eltwiseForwardPrimitive(a, count: count))
        }
        let md = memoryDescriptor([count], dnnl_a)
        var dx = Tensor.uninitialized(x.shape)
        x.withUnsafeBufferPointer { px in
            dy.withUnsafeBufferPointer { pdy in
                dx.withUnsafeMutableBufferPointer { pdx in
                    prim.execute([(Arg.src, md, rawInput(px)), (Arg.diffDst, md, rawInput(pdy)),
                                  (Arg.diffSrc, md, UnsafeMutableRawPointer(pdx.baseAddress!))])
                }
            }
        }
        return dx
    }
}
