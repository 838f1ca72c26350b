// The Graft side of the side-by-side benchmark (scripts/bench.sh runs it with
// scripts/bench_torch.py): milliseconds per batch of whole-model inference and training
// steps, median of timed repetitions after warm-up.
//
//   swift run -c release GraftBench [CONFIG ...] [--repeat N] [--json]
//
// Configurations: resnet18-224-infer, resnet18-224-train, resnet18-224-fc, vgg16-224-infer,
// resnet18-32-frozen3, resnet18-64-frozen3, resnet20-32-train, lenet5-28-train; and with
// `--images DIR` (an image folder, one sub-folder per class; scripts/bench.sh writes 1,000
// PNGs): loader-64 (decode + augment + batch alone, ms per batch of 32) and finetune-64 (a
// `finetune --base resnet18 --freeze 3` run at 64 px, weights none: its first epoch and its
// later ones, after the feature cache holds its views; ms per epoch, validation included).
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
var images: String?
if let i = arguments.firstIndex(of: "--images"), i + 1 < arguments.count {
    images = arguments[i + 1]
    arguments.removeSubrange(i...(i + 1))
}
let json = arguments.contains("--json")
arguments.removeAll { $0 == "--json" }
let chosen = arguments.isEmpty ? configs : configs.filter { arguments.contains($0.name) }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// One result line: JSON for scripts/bench.sh, or a table row.
func report(_ name: String, ms: Double, images: Int) {
    let rate = Double(images) / ms * 1000
    if json {
        print("{\"framework\": \"graft\", \"config\": \"\(name)\", \"ms\": \(ms), \"images_per_second\": \(rate)}")
    } else {
        print(
            name.padding(toLength: 22, withPad: " ", startingAt: 0) + String(format: "%9.1f ms %9.1f img/s", ms, rate))
    }
    fflush(stdout)
}

for config in chosen {
    Random.seed(0)
    var configuration = try Architectures.entry(config.architecture).configuration(10)
    configuration = configuration.sized(to: config.size)
    if case .lenet(var c) = configuration {
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
    report(config.name, ms: median(times), images: config.batch)
}

let wanted = { (name: String) in arguments.isEmpty || arguments.contains(name) }
if let images, wanted("loader-64") {
    // The fine-tuning run's loader and pipeline (FineTuneOptions' default augmentation), one epoch.
    let folder = try ImageFolder(images)
    let loader = BatchLoader(
        source: folder, batchSize: 32, imageSize: (64, 64), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
        augmentation: try Augmentation(spec: FineTuneOptions(base: "resnet18", freeze: .stages(3)).pipeline), seed: 1)
    var times: [Double] = []
    for epoch in 0..<3 {
        var t0 = DispatchTime.now().uptimeNanoseconds
        for _ in loader.batches(epoch: epoch) {
            let t1 = DispatchTime.now().uptimeNanoseconds
            if epoch > 0 { times.append(Double(t1 - t0) / 1e6) }  // the first epoch warms the file cache
            t0 = t1
        }
    }
    report("loader-64", ms: median(times), images: 32)
}
if let images, wanted("finetune-64") {
    var options = FineTuneOptions(base: "resnet18", freeze: .stages(3))
    options.data = images
    options.weights = "none"
    options.imageSize = 64
    options.epochs = 6  // the cache builds one augmented view per epoch for its first 4 epochs
    options.patience = 6
    options.progressBar = false
    options.runsDirectory =
        FileManager.default.temporaryDirectory.appendingPathComponent("graft-bench-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: options.runsDirectory) }
    let result = try FineTune.run(options, log: .silent)
    let first = result.history[0]
    let trained = Int((first.imagesPerSecond * first.seconds).rounded())  // the training split's images
    report("finetune-64-epoch1", ms: first.seconds * 1000, images: trained)
    report("finetune-64-later", ms: median(result.history.suffix(2).map { $0.seconds * 1000 }), images: trained)
}
