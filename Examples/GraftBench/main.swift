// The Graft side of the side-by-side benchmark (scripts/bench.sh runs it with
// scripts/bench_torch.py): milliseconds per batch of whole-model inference and training
// steps, median of timed repetitions after warm-up.
//
//   swift run -c release GraftBench [CONFIG ...] [--repeat N] [--json]
//
// Configurations: resnet18-224-infer, resnet18-224-train, resnet18-224-fc, vgg16-224-infer,
// resnet20-32-train, lenet5-28-train, resnet18-32-frozen3, resnet18-64-frozen3.
import Foundation
import Graft

struct Config {
    let name: String
    let architecture: String
    let size: Int
    let channels: Int
    let batch: Int
    /// nil: inference only; otherwise the number of frozen stages (-1: all but the head).
    let trainFrozen: Int?
}

let configs: [Config] = [
    Config(name: "resnet18-224-infer", architecture: "resnet18", size: 224, channels: 3, batch: 8, trainFrozen: nil),
    Config(name: "resnet18-224-train", architecture: "resnet18", size: 224, channels: 3, batch: 8, trainFrozen: 0),
    Config(name: "resnet18-224-fc", architecture: "resnet18", size: 224, channels: 3, batch: 8, trainFrozen: -1),
    Config(name: "vgg16-224-infer", architecture: "vgg16", size: 224, channels: 3, batch: 4, trainFrozen: nil),
    Config(name: "resnet20-32-train", architecture: "resnet20", size: 32, channels: 3, batch: 128, trainFrozen: 0),
    Config(name: "lenet5-28-train", architecture: "lenet5", size: 32, channels: 1, batch: 64, trainFrozen: 0),
    Config(name: "resnet18-32-frozen3", architecture: "resnet18", size: 32, channels: 3, batch: 32, trainFrozen: 3),
    Config(name: "resnet18-64-frozen3", architecture: "resnet18", size: 64, channels: 3, batch: 32, trainFrozen: 3),
]

var arguments = Array(CommandLine.arguments.dropFirst())
var repetitions = 10
if let i = arguments.firstIndex(of: "--repeat"), i + 1 < arguments.count {
    repetitions = Int(arguments[i + 1]) ?? repetitions
    arguments.removeSubrange(i...(i + 1))
}
let json = arguments.contains("--json")
arguments.removeAll { $0 == "--json" }
let chosen = arguments.isEmpty ? configs : configs.filter { arguments.contains($0.name) }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

for config in chosen {
    Random.seed(0)
    var configuration = try Architectures.entry(config.architecture).configuration(10)
    configuration = configuration.sized(to: config.size)
    if case var .lenet(c) = configuration {
        c.inputChannels = config.channels
        configuration = .lenet(c)
    }
    let model = configuration.build()
    var rng = RandomGenerator(seed: 1)
    let input = Tensor.randomNormal([config.batch, config.size, config.size, config.channels], using: &rng)
    let labels = (0..<config.batch).map { $0 % 10 }
    var step: () throws -> Void
    if let frozen = config.trainFrozen {
        if frozen < 0 { model.freezeAllButHead() } else { model.freezeStages(frozen) }
        let optimizer = Optimizer(SGD(momentum: 0.9), parameters: model.trainableParameters, learningRate: 1e-3)
        model.train()
        step = {
            optimizer.zeroGrad()
            let loss = try softmaxCrossEntropy(logits: model(Variable(input)), labels: labels)
            loss.backward()
            optimizer.step()
        }
    } else {
        model.eval()
        step = { _ = model.predict(input) }
    }
    for _ in 0..<3 { try step() }  // warm-up: primitives, caches, first touch
    var times: [Double] = []
    for _ in 0..<repetitions {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try step()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    let ms = median(times)
    let rate = Double(config.batch) / ms * 1000
    if json {
        print("{\"framework\": \"graft\", \"config\": \"\(config.name)\", \"ms\": \(ms), \"images_per_second\": \(rate)}")
    } else {
        print(config.name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%9.1f ms/batch %9.1f img/s", ms, rate))
    }
}
