import Engine
import TestSupport

/// Runs a fixture case's op on Graft's autodiff ops; returns the main output "y".
func runFixtureOp(_ c: FixtureCase, _ v: [String: Variable]) -> Variable {
    switch c.op {
    case "conv2d":
        return conv2d(v["x"]!, v["w"]!, bias: v["b"], stride: c.pair("stride"), padding: c.padding,
                      dilation: c.pair("dilation"), groups: c.int("groups"))
    case "maxpool2d": return maxPool2d(v["x"]!, pool: c.pair("pool"), stride: c.pair("stride"), padding: c.padding)
    case "avgpool2d": return avgPool2d(v["x"]!, pool: c.pair("pool"), stride: c.pair("stride"), padding: c.padding)
    case "medianpool2d": return medianPool2d(v["x"]!, pool: c.pair("pool"), stride: c.pair("stride"), padding: c.padding)
    case "global_avg_pool": return globalAvgPool(v["x"]!)
    case "batchnorm":
        let stats = c.bool("training") ? nil : (v["running_mean"]!.value, v["running_var"]!.value)
        return batchNorm(v["x"]!, gamma: v["gamma"]!, beta: v["beta"]!, statistics: stats, epsilon: c.float("eps")).output
    case "relu": return relu(v["x"]!)
    case "leaky_relu": return leakyReLU(v["x"]!, alpha: c.float("alpha"))
    case "elu": return elu(v["x"]!, alpha: c.float("alpha"))
    case "sigmoid": return sigmoid(v["x"]!)
    case "tanh": return tanh(v["x"]!)
    case "softmax": return softmax(v["x"]!, axis: c.int("axis"))
    case "log_softmax": return logSoftmax(v["x"]!, axis: c.int("axis"))
    case "matmul": return matmul(v["a"]!, v["b"]!)
    case "linear": return linear(v["x"]!, v["w"]!, bias: v["b"])
    case "add": return v["a"]! + v["b"]!
    case "sub": return v["a"]! - v["b"]!
    case "mul": return v["a"]! * v["b"]!
    case "div": return v["a"]! / v["b"]!
    case "sum": return v["x"]!.sum(axes: c.ints("axes"), keepDims: c.bool("keepdims"))
    case "mean": return v["x"]!.mean(axes: c.ints("axes"), keepDims: c.bool("keepdims"))
    case "max": return v["x"]!.max(axes: c.ints("axes"), keepDims: c.bool("keepdims"))
    case "exp": return v["x"]!.exp()
    case "log": return v["x"]!.log()
    case "sqrt": return v["x"]!.sqrt()
    case "square": return v["x"]!.squared()
    case "abs": return v["x"]!.abs()
    case "pow": return v["x"]!.pow(c.float("exponent"))
    case "permute": return v["x"]!.permuted(c.ints("permutation")!)
    case "concatenate": return concatenate([v["a"]!, v["b"]!], axis: c.int("axis"))
    case "global_max_pool": return globalMaxPool(v["x"]!)
    case "zero_pad2d":
        let p = c.ints("padding")!
        return zeroPad2d(v["x"]!, top: p[0], bottom: p[1], left: p[2], right: p[3])
    default: fatalError("fixture op \(c.op) has no Graft mapping")
    }
}
