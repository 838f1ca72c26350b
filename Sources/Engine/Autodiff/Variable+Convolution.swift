// Differentiable convolution and pooling (oneDNN), NHWC activations, HWIO kernels.

/// 2-D convolution: `x` NHWC `[n, h, w, cin]`, `w` HWIO `[kh, kw, cin / groups, cout]`,
/// optional `bias` `[cout]`; output `[n, oh, ow, cout]` with `oh`, `ow` as `Padding` says.
public func conv2d(_ x: Variable, _ w: Variable, bias: Variable? = nil, stride: (Int, Int) = (1, 1),
                   padding: Padding = .valid, dilation: (Int, Int) = (1, 1), groups: Int = 1) -> Variable {
    let g = require { try Conv2DGeometry(input: x.shape, kernel: w.shape, stride: stride, padding: padding,
                                         dilation: dilation, groups: groups) }
    let y = Kernels.conv2d(x.value, w.value, bias: bias?.value, geometry: g)
    let inputs = [x, w] + (bias.map { [$0] } ?? [])
    return Variable.record("conv2d", inputs, value: y) { dy in
        var grads: [Tensor?] = [x.requiresGrad ? Kernels.conv2dBackwardData(dy, w.value, geometry: g) : nil, nil]
        let wantBias = bias?.requiresGrad ?? false
        if w.requiresGrad || wantBias {
            let (dw, db) = Kernels.conv2dBackwardWeights(x.value, dy, bias: bias != nil, geometry: g)
            grads[1] = dw
            if bias != nil { grads.append(db) }
        } else if bias != nil {
            grads.append(nil)
        }
        return grads
    }
}

/// Max pooling over NHWC windows (padding counts as -infinity).
public func maxPool2d(_ x: Variable, pool: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) -> Variable {
    pool2d(.max, x, pool: pool, stride: stride ?? pool, padding: padding)
}

/// Average pooling over NHWC windows; padded cells are left out of each average (Keras).
public func avgPool2d(_ x: Variable, pool: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) -> Variable {
    pool2d(.average, x, pool: pool, stride: stride ?? pool, padding: padding)
}

private func pool2d(_ kind: Pool2DGeometry.Kind, _ x: Variable, pool: (Int, Int), stride: (Int, Int), padding: Padding) -> Variable {
    let g = require { try Pool2DGeometry(kind, input: x.shape, pool: pool, stride: stride, padding: padding) }
    let training = x.requiresGrad && Autodiff.isRecording
    let (y, workspace) = Kernels.pool2d(x.value, geometry: g, training: training)
    return Variable.record("\(kind)Pool2d", [x], value: y) { dy in
        [Kernels.pool2dBackward(dy, workspace: workspace, geometry: g)]
    }
}

/// Median pooling over NHWC windows: the lower median of each window's real cells
/// (`Kernels.medianPool2d`); the gradient goes to the chosen cell.
public func medianPool2d(_ x: Variable, pool: (Int, Int), stride: (Int, Int)? = nil, padding: Padding = .valid) -> Variable {
    ensure(x.shape.count == 4, "medianPool2d: expects an NHWC input of rank 4, got \(x.shape)")
    let window = require {
        try Window2D(op: "medianPool2D", input: (x.shape[1], x.shape[2]), kernel: pool, stride: stride ?? pool, padding: padding)
    }
    let inputShape = x.shape
    let (y, sources) = Kernels.medianPool2d(x.value, window: window)
    return Variable.record("medianPool2d", [x], value: y) { dy in
        [Kernels.medianPool2dBackward(dy, sources: sources, inputShape: inputShape)]
    }
}

/// The mean over height and width: `[n, h, w, c] -> [n, c]`.
public func globalAvgPool(_ x: Variable) -> Variable {
    let inShape = x.shape
    return Variable.record("globalAvgPool", [x], value: Kernels.globalAvgPool(x.value)) { dy in
        [Kernels.globalAvgPoolBackward(dy, inputShape: inShape)]
    }
}

/// The maximum over height and width: `[n, h, w, c] -> [n, c]`.
public func globalMaxPool(_ x: Variable) -> Variable {
    ensure(x.shape.count == 4, "globalMaxPool: expects an NHWC input of rank 4, got \(x.shape)")
    return x.max(axes: [1, 2])
}

/// Zero padding of NHWC height and width (Keras ZeroPadding2D); backward crops.
public func zeroPad2d(_ x: Variable, top: Int, bottom: Int, left: Int, right: Int) -> Variable {
    Variable.record("zeroPad2d", [x], value: x.value.padded2d(top: top, bottom: bottom, left: left, right: right)) { g in
        [g.cropped2d(top: top, bottom: bottom, left: left, right: right)]
    }
}
