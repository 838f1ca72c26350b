// Does transfer pay? The same architecture and epoch budget trained (a) from scratch,
// (b) as a linear probe on the frozen pretrained body (--freeze all), (c) fine-tuned with
// --freeze N for several N; mean and spread of held-out test accuracy over seeds, and wall
// time. Two tasks: the embedded food demo (different data than the clip-art pretraining,
// little of it) and few-shot Fashion-MNIST (10 images per class; the same data the grey zoo
// entries learnt from). Needs the zoo's entries.
//
// Every condition runs with the fine-tuning defaults (10 epochs at most, early stopping on the
// validation loss with patience 3) unless --epochs E (then E epochs, no early stopping).
//
//   swift run -c release TransferEvidence [--seeds 3] [--epochs E] [--task demo|fashion|all]
//       [--monitor val_loss|val_accuracy] [--set "FIELD=JSON;..."] [--only CONDITION...]
//   e.g. --only scratch "freeze 3";  --set "learningRate=1e-4;headEpochs=2" (FineTuneOptions' fields, for
//   every condition: to try other recipes against the defaults)
import Foundation
import Graft

struct Condition {
    let name: String
    let weights: String?  // "none": from scratch; nil: the zoo entry
    let freeze: FineTuneOptions.Freeze
}

let arguments = CommandLine.arguments
func value(_ flag: String, _ fallback: String) -> String {
    arguments.firstIndex(of: flag).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil } ?? fallback
}
let seeds = Int(value("--seeds", "3")) ?? 3
let epochs = Int(value("--epochs", ""))
let task = value("--task", "all")
let monitor = Monitor(rawValue: value("--monitor", Monitor.validationLoss.rawValue)) ?? .validationLoss
let overrides = value("--set", "")
let only = arguments.firstIndex(of: "--only").map { arguments[($0 + 1)...].filter { !$0.hasPrefix("--") } }

/// `options` with the fields `text` names ("learningRate=1e-4;pipeline=\"hflip\"") set from their JSON values.
func overriding(_ options: FineTuneOptions, with text: String) throws -> FineTuneOptions {
    guard !text.isEmpty else { return options }
    var fields = try JSONSerialization.jsonObject(with: JSONEncoder().encode(options)) as! [String: Any]
    for assignment in text.split(separator: ";") {
        let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2,
            let value = try? JSONSerialization.jsonObject(with: Data(parts[1].utf8), options: .fragmentsAllowed)
        else {
            FileHandle.standardError.write(Data("--set \(assignment): want FIELD=JSON, e.g. pipeline=\"hflip\"\n".utf8))
            exit(64)
        }
        fields[parts[0]] = value
    }
    return try JSONDecoder().decode(FineTuneOptions.self, from: JSONSerialization.data(withJSONObject: fields))
}

func conditions(stages: Int) -> [Condition] {
    [
        Condition(name: "from scratch", weights: "none", freeze: .stages(0)),
        Condition(name: "linear probe (--freeze all)", weights: nil, freeze: .allButHead),
    ]
        + [stages - 1, stages - 2, 1, 0].map {
            Condition(name: "fine-tune --freeze \($0)", weights: nil, freeze: .stages($0))
        }
}

func experiment(_ title: String, base: String, stages: Int, configure: (inout FineTuneOptions) -> Void) throws {
    print("\n### \(title)\n")
    print("| condition | test accuracy (mean ± sd over \(seeds) seeds) | per seed | best epochs | wall time per run |")
    print("|---|---|---|---|---|")
    let runs = FileManager.default.temporaryDirectory.appendingPathComponent("graft-evidence-\(getpid())").path
    defer { try? FileManager.default.removeItem(atPath: runs) }
    for condition in conditions(stages: stages) where only.map({ $0.contains { condition.name.contains($0) } }) ?? true
    {
        var accuracies: [Double] = []
        var seconds: [Double] = []
        var bestEpochs: [Int] = []
        for seed in 0..<seeds {
            var o = FineTuneOptions(base: base, freeze: condition.freeze)
            o.weights = condition.weights
            if let epochs {
                o.epochs = epochs
                o.patience = epochs
            }
            o.seed = UInt64(seed)
            o.monitor = monitor
            o.runsDirectory = runs
            o.progressBar = false
            configure(&o)
            o = try overriding(o, with: overrides)
            let result = try FineTune.run(o, log: .silent)
            // With --snapshots, the run's answer is its snapshot ensemble.
            accuracies.append((result.snapshotEnsemble?.test ?? result.test!).accuracy * 100)
            seconds.append(result.seconds)
            bestEpochs.append(result.bestEpoch ?? 0)
        }
        let mean = accuracies.reduce(0, +) / Double(accuracies.count)
        let sd = (accuracies.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(max(accuracies.count - 1, 1)))
            .squareRoot()
        let perSeed = accuracies.map { String(format: "%.1f", $0) }.joined(separator: ", ")
        let epochsText = bestEpochs.map(String.init).joined(separator: ", ")
        print(
            String(
                format: "| %@ | %.1f%% ± %.1f | %@ | %@ | %.0f s |", condition.name, mean, sd, perSeed, epochsText,
                seconds.reduce(0, +) / Double(seconds.count)))
        fflush(stdout)
    }
}

let budget = epochs.map { "\($0) epochs per run" } ?? "the default budget (10 epochs, patience 3)"
print("Transfer evidence, \(budget), \(Pretraining.machineDescription())")
if !overrides.isEmpty { print("Every condition with: \(overrides)") }
if task == "all" || task == "demo" {
    try experiment(
        "Food demo (6 classes, 289 drawings; 20% validation, 20% held-out test), ResNet-18 at 64 px",
        base: "resnet", stages: 5
    ) { o in
        o.testFraction = 0.2
    }
}
if task == "all" || task == "fashion" {
    try experiment(
        "Few-shot Fashion-MNIST (10 training and 10 validation images per class; all 10,000 test images), ResNet-20 at 28 px",
        base: "resnet", stages: 4
    ) { o in
        o.dataset = .fashionMNIST
        o.trainPerClass = 10
        o.validationPerClass = 10
        o.batchSize = 32
    }
}
