// Prints GFLOP/s of the engine's heavy kernels on this machine.
//
//   swift run -c release EngineBenchmarks
//
// Each figure is the best of several timed repetitions after a warm-up (primitive creation
// and first-touch excluded). FLOPs count one multiply-add as 2.
import Engine
import Foundation
import Graft

func measure(_ name: String, flops: Double, repetitions: Int = 10, _ body: () -> Void) {
    body()  // warm-up: builds and caches the oneDNN primitive
    var best = Double.infinity
    for _ in 0..<repetitions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print(
        name.padding(toLength: 48, withPad: " ", startingAt: 0)
            + String(format: "%8.2f ms  %7.1f GFLOP/s", best * 1e3, flops / best / 1e9))
}

print("Graft engine benchmarks, \(Threads.count) thread(s) (set GRAFT_NUM_THREADS to change)")
var rng = RandomGenerator(seed: 0)

let n = 2048
let a = Tensor.randomNormal([n, n], using: &rng)
let b = Tensor.randomNormal([n, n], using: &rng)
measure("sgemm 2048x2048x2048 (oneDNN)", flops: 2 * pow(Double(n), 3)) { _ = Kernels.matmul(a, b) }

// ResNet-18 stage 3, 3x3 convolution, batch 8: 14x14x256 -> 14x14x256, 'same' padding.
let g = try! Conv2DGeometry(input: [8, 14, 14, 256], kernel: [3, 3, 256, 256], padding: .same)
let x = Tensor.randomNormal(g.input, using: &rng)
let w = Tensor.randomNormal(g.kernel, std: 0.02, using: &rng)
let dy = Tensor.randomNormal(g.output, using: &rng)
let convFlops = 2.0 * 8 * 14 * 14 * 256 * 256 * 9
measure("conv 3x3 8x14x14x256 -> 256 forward", flops: convFlops) { _ = Kernels.conv2d(x, w, bias: nil, geometry: g) }
measure("conv 3x3 8x14x14x256 -> 256 backward data", flops: convFlops) {
    _ = Kernels.conv2dBackwardData(dy, w, geometry: g)
}
measure("conv 3x3 8x14x14x256 -> 256 backward weights", flops: convFlops) {
    _ = Kernels.conv2dBackwardWeights(x, dy, bias: false, geometry: g)
}

// Graft's own elementwise loops (split over Threads.count): memory-bound, so GB/s.
let big1 = Tensor.randomNormal([1 << 24], using: &rng)
let big2 = Tensor.randomNormal([1 << 24], using: &rng)
func measureBandwidth(_ name: String, bytes: Double, _ body: () -> Void) {
    body()
    var best = Double.infinity
    for _ in 0..<5 {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
    print(
        name.padding(toLength: 48, withPad: " ", startingAt: 0)
            + String(format: "%8.2f ms  %7.1f GB/s", best * 1e3, bytes / best / 1e9))
}
measureBandwidth("elementwise a + b, 16M floats", bytes: 3 * 4 * Double(1 << 24)) { _ = big1 + big2 }
measureBandwidth("relu (oneDNN eltwise), 16M floats", bytes: 2 * 4 * Double(1 << 24)) {
    _ = Kernels.activation(big1, .relu)
}

// One SGD step (momentum 0.9) over ResNet-18's 11.7M weights, gradients given: it reads the
// weights, gradients and momentum and writes weights and momentum, 5 floats per weight.
let resnet = try! Architectures.entry("resnet18").configuration(10).build()
for (_, p) in resnet.trainableParameters { p.grad = Tensor.randomNormal(p.shape, using: &rng) }
let sgd = Optimizer(SGD(momentum: 0.9), parameters: resnet.trainableParameters, learningRate: 1e-3)
let weights = Double(resnet.trainableParameterCount)
measureBandwidth("SGD momentum step, ResNet-18 (11.7M weights)", bytes: 5 * 4 * weights) { sgd.step() }
