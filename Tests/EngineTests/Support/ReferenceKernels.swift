import Engine
import Foundation

/// Straightforward loop implementations used only to check the oneDNN kernels on many
/// random configurations. Layouts: NHWC inputs, HWIO kernels.
enum Reference {
    static func conv2d(_ x: Tensor, _ w: Tensor, bias: Tensor?, geometry g: Conv2DGeometry) -> Tensor {
        let (n, h, wd, cin) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw, cinG, cout) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3])
        let coutG = cout / g.groups
        let win = g.window
        var y = Tensor.zeros(g.output)
        for b in 0..<n {
            for oy in 0..<win.output.h {
                for ox in 0..<win.output.w {
                    for o in 0..<cout {
                        let group = o / coutG
                        var acc = Double(bias?.scalars[o] ?? 0)
                        for ky in 0..<kh {
                            let iy = oy * win.stride.h - win.pad.top + ky * win.dilation.h
                            guard iy >= 0 && iy < h else { continue }
                            for kx in 0..<kw {
                                let ix = ox * win.stride.w - win.pad.left + kx * win.dilation.w
                                guard ix >= 0 && ix < wd else { continue }
                                for i in 0..<cinG {
                                    let c = group * cinG + i
                                    acc += Double(x[b, iy, ix, c]) * Double(w[ky, kx, i, o])
                                }
                            }
                        }
                        y[b, oy, ox, o] = Float(acc)
                    }
                }
            }
        }
        _ = cin
        return y
    }

    static func pool2d(_ x: Tensor, geometry g: Pool2DGeometry) -> Tensor {
        let win = g.window
        var y = Tensor.zeros(g.output)
        for b in 0..<x.shape[0] {
            for oy in 0..<win.output.h {
                for ox in 0..<win.output.w {
                    for c in 0..<x.shape[3] {
                        var best = -Float.infinity, total: Double = 0, cells = 0
                        for ky in 0..<win.kernel.h {
                            let iy = oy * win.stride.h - win.pad.top + ky
                            guard iy >= 0 && iy < x.shape[1] else { continue }
                            for kx in 0..<win.kernel.w {
                                let ix = ox * win.stride.w - win.pad.left + kx
                                guard ix >= 0 && ix < x.shape[2] else { continue }
                                best = max(best, x[b, iy, ix, c]); total += Double(x[b, iy, ix, c]); cells += 1
                            }
                        }
                        y[b, oy, ox, c] = g.kind == .max ? best : Float(total / Double(cells))
                    }
                }
            }
        }
        return y
    }

    /// Training-mode batch normalisation over the last axis.
    static func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Float) -> Tensor {
        let c = x.shape.last!, m = x.count / c
        var mean = [Double](repeating: 0, count: c), variance = [Double](repeating: 0, count: c)
        for i in 0..<x.count { mean[i % c] += Double(x.scalars[i]) / Double(m) }
        for i in 0..<x.count { variance[i % c] += pow(Double(x.scalars[i]) - mean[i % c], 2) / Double(m) }
        return Tensor.generate(x.shape) { i in
            let ch = i % c
            return Float(Double(gamma.scalars[ch]) * (Double(x.scalars[i]) - mean[ch]) / (variance[ch] + Double(epsilon)).squareRoot()
                         + Double(beta.scalars[ch]))
        }
    }
}
