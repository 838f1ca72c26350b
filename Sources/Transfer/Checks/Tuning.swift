import Engine
import Foundation
import Layers
import Logging
import Report
import Vision
import Zoo

/// Hyperparameter search the lecture notes' way: random samples in log space, wide first,
/// then narrowed to the span of the best third (widened 2x each way). Each trial is an ordinary run (early stopping, the
/// feature cache) with its own learning rate, weight decay and, optionally, `--freeze`.
public enum Tuning {
    /// One trial's hyperparameters and outcome (tune.json holds them all, best first).
    public struct Trial: Codable, Sendable {
        /// The trial's number, 1-based, in the order run.
        public var number: Int
        /// The sampled learning rate (log-uniform in the current range).
        public var learningRate: Float
        /// The sampled weight decay (log-uniform in the current range).
        public var weightDecay: Float
        /// The sampled `--freeze` stage count; nil when `Ranges.freeze` is nil (the options' freeze).
        public var freeze: Int?
        /// The sampled `--dropout` rate; nil when `Ranges.dropout` is nil (the options' dropout).
        public var dropout: Float?
        /// The validation accuracy of what the trial delivers, in [0, 1]: the weights it ended with
        /// (its best epoch's), or its snapshot ensemble when the options ask for `snapshots`.
        public var validationAccuracy: Double
        /// The validation loss of the same model or ensemble (ties in accuracy rank by the lower loss).
        public var validationLoss: Double
        /// The epoch early stopping chose (0 if none finished).
        public var bestEpoch: Int
        /// The trial run's `FineTuneResult.seconds`.
        public var seconds: Double
        /// The trial's run folder, under `folder/trials`.
        public var runFolder: String
        /// The snapshot files whose ensemble the validation figures score (`snapshots/cycle-K.h5`);
        /// nil when they score the run's model.h5.
        public var snapshots: [String]? = nil

        /// The weight files the trial delivers: its snapshots, or its model.h5.
        public var modelFiles: [String] { snapshots ?? [runFolder + "/model.h5"] }

        /// " (ensemble of K snapshots)" after a figure that scores the snapshots, else "".
        public var scoredOn: String { snapshots.map { " (ensemble of \($0.count) snapshots)" } ?? "" }
    }

    /// The search space: learning-rate and weight-decay ranges and, optionally, freeze depths.
    public struct Ranges: Sendable {
        /// The learning rates sampled log-uniformly; default 1e-4...1e-2.
        public var learningRate: ClosedRange<Float> = 1e-4...1e-2
        /// The weight decays sampled log-uniformly; default 1e-6...1e-2.
        public var weightDecay: ClosedRange<Float> = 1e-6...1e-2
        /// Stage counts to choose from (nil: keep the options' freeze).
        public var freeze: [Int]?
        /// Dropout rates before a ResNet's head, sampled uniformly (a rate is not a scale, so not in
        /// log space); nil: keep the options' dropout.
        public var dropout: ClosedRange<Float>?
        /// The default ranges, with the options' freeze kept.
        public init() {}
    }

    static func logUniform(_ range: ClosedRange<Float>, _ rng: inout RandomGenerator) -> Float {
        let (lo, hi) = (log(Double(range.lowerBound)), log(Double(range.upperBound)))
        return Float(exp(lo + (hi - lo) * Double(rng.nextUniform())))
    }

    /// Runs `trials` trials (the first half over `ranges`, the rest over the range spanned by
    /// the best third so far, widened 2x each way; with fewer than 6 trials the first half is
    /// too small to rank and every trial samples `ranges`), writes tune.json, tune.md and tune.png (validation accuracy
    /// against the learning rate) into `folder`, and returns the trials best first.
    public static func run(
        _ base: FineTuneOptions, trials: Int, ranges: Ranges = Ranges(), folder: String,
        log: Logger = .graft
    ) throws -> [Trial] {
        if base.dropBlock > 0, let deepest = ranges.freeze?.max() {  // refused before any trial runs
            let plan = try FineTune.resolve(base)
            if deepest > FineTune.deepestFreeze(base, stages: plan.stageCount) {
                throw FineTuneError.dropBlockOnFrozenStage(freeze: "\(deepest)", architecture: plan.entry.name)
            }
        }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var rng = RandomGenerator(seed: mixSeeds(base.seed, 0x7_0E5))
        var results: [Trial] = []
        var current = ranges
        for number in 1...trials {
            if number == trials / 2 + 1, results.count >= 3 {
                current = narrowed(ranges, around: results)
                let dropout = current.dropout.map {
                    String(format: ", dropout %.2f...%.2f", Double($0.lowerBound), Double($0.upperBound))
                }
                let message = String(
                    format: "narrowing to the best third: lr %.2g...%.2g, weight decay %.2g...%.2g%@",
                    Double(current.learningRate.lowerBound),
                    Double(current.learningRate.upperBound), Double(current.weightDecay.lowerBound),
                    Double(current.weightDecay.upperBound), dropout ?? "")
                log.info("\(message)")
            }
            var o = base
            o.learningRate = logUniform(current.learningRate, &rng)
            o.weightDecay = logUniform(current.weightDecay, &rng)
            let freeze = current.freeze.map { $0[Int(rng.next() % UInt64($0.count))] }
            if let freeze { o.freeze = .stages(freeze) }
            let dropout = current.dropout.map { $0.lowerBound + ($0.upperBound - $0.lowerBound) * rng.nextUniform() }
            if let dropout { o.dropout = dropout }
            o.runsDirectory = folder + "/trials"
            o.progressBar = false
            let result = try FineTune.run(o, log: .silent)
            let scored = result.snapshotEnsemble?.validation ?? result.validation
            let trial = Trial(
                number: number, learningRate: o.learningRate, weightDecay: o.weightDecay, freeze: freeze,
                dropout: dropout,
                validationAccuracy: scored.accuracy, validationLoss: scored.loss,
                bestEpoch: result.bestEpoch ?? 0, seconds: result.seconds, runFolder: result.runFolder,
                snapshots: result.snapshotEnsemble?.files)
            results.append(trial)
            let message = String(
                format: "trial %d/%d: lr %.2g, weight decay %.2g%@ -> validation accuracy %.1f%%%@ (%.0f s)", number,
                trials,
                Double(trial.learningRate), Double(trial.weightDecay),
                (freeze.map { ", --freeze \($0)" } ?? "")
                    + (dropout.map { String(format: ", dropout %.2f", $0) } ?? ""),
                trial.validationAccuracy * 100, trial.scoredOn, trial.seconds)
            log.info("\(message)")
        }
        let ranked = results.sorted {
            ($0.validationAccuracy, -$0.validationLoss) > ($1.validationAccuracy, -$1.validationLoss)
        }
        try write(ranked, to: folder)
        return ranked
    }

    /// The ranges of the second half: the span of the best third of `results` (by validation
    /// accuracy), rates widened 2x each way and dropout by 0.1, within `ranges`; the freeze depths
    /// the best third used.
    static func narrowed(_ ranges: Ranges, around results: [Trial]) -> Ranges {
        let best = results.sorted { $0.validationAccuracy > $1.validationAccuracy }.prefix(max(1, results.count / 3))
        func around(_ values: [Float], within range: ClosedRange<Float>) -> ClosedRange<Float> {
            max(values.min()! / 2, range.lowerBound)...min(values.max()! * 2, range.upperBound)
        }
        var current = ranges
        current.learningRate = around(best.map(\.learningRate), within: ranges.learningRate)
        current.weightDecay = around(best.map(\.weightDecay), within: ranges.weightDecay)
        if ranges.freeze != nil { current.freeze = Array(Set(best.compactMap(\.freeze))).sorted() }
        if let range = ranges.dropout {
            let rates = best.compactMap(\.dropout)
            current.dropout = max(rates.min()! - 0.1, range.lowerBound)...min(rates.max()! + 0.1, range.upperBound)
        }
        return current
    }

    static func write(_ ranked: [Trial], to folder: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(ranked), to: folder + "/tune.json")
        var table =
            "| rank | trial | learning rate | weight decay | freeze | dropout | validation accuracy | validation loss | best epoch |\n|---|---|---|---|---|---|---|---|---|\n"
        for (rank, t) in ranked.enumerated() {
            table += String(
                format: "| %d | %d | %.3g | %.3g | %@ | %@ | %.1f%%%@ | %.4f | %d |\n", rank + 1, t.number,
                Double(t.learningRate), Double(t.weightDecay), t.freeze.map(String.init) ?? "-",
                t.dropout.map { String(format: "%.2f", $0) } ?? "-", t.validationAccuracy * 100, t.scoredOn,
                t.validationLoss, t.bestEpoch)
        }
        try AtomicFile.write(table, to: folder + "/tune.md")
        try Charts.scatter(
            title: "Hyperparameter search", xs: ranked.map { Double($0.learningRate) },
            ys: ranked.map(\.validationAccuracy),
            xTitle: "learning rate (log scale)", yTitle: "validation accuracy"
        ).writePNG(to: folder + "/tune.png")
    }

    /// Copies the best `count` trials' models into `folder/ensemble/` for
    /// `finetune predict --model ... --model ...`: `model-N.h5`, or for a trial scored by its
    /// snapshot ensemble every snapshot, `model-N-cycle-K.h5`.
    public static func keep(_ ranked: [Trial], count: Int, folder: String) throws -> [String] {
        let target = folder + "/ensemble"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
        return try ranked.prefix(count).enumerated().flatMap { i, trial in
            try trial.modelFiles.enumerated().map { k, file in
                let path = target + "/model-\(i + 1)" + (trial.snapshots == nil ? "" : "-cycle-\(k + 1)") + ".h5"
                try AtomicFile.write(try Foundation.Data(contentsOf: URL(fileURLWithPath: file)), to: path)
                return path
            }
        }
    }
}
