import Engine
import Foundation
import Report
import Vision

/// The files of a run folder that say what the run is and how far it got: `options.json`
/// (what it was started with: `finetune resume` reads it back), `status.json` (running,
/// interrupted, diverged or finished, and the epochs done), plus the charts and the summary.
public enum RunFolder {
    /// How far a run got: `running` (or killed without a trace), `interrupted` (stopped by an
    /// interrupt; resumable), `diverged` (training failed on non-finite values) or `finished`.
    public enum State: String, Codable, Sendable {
        /// Training, or killed without a trace (the checkpoint tells how far it got).
        case running
        /// Stopped by Ctrl-C or SIGTERM after a complete batch; `finetune resume` continues it.
        case interrupted
        /// Stopped on a non-finite or exploding loss; model.h5 holds the best epoch before.
        case diverged
        /// Ran to the end or stopped early; model.h5 is the best epoch.
        case finished
    }

    /// The contents of `status.json`.
    public struct Status: Codable, Sendable {
        /// Where the run stands.
        public var state: State
        /// Epochs completed when the status was written.
        public var epochs: Int
        /// When the status was written (ISO 8601, UTC).
        public var updated: String
    }

    static func writeStart(_ run: String, options: FineTuneOptions, split: DatasetSplit) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(options), to: run + "/options.json")
        try split.save(to: run + "/split.json")
    }

    static func readStart(_ run: String) throws -> (FineTuneOptions, Status) {
        guard
            let options = try? FineTuneOptions.decode(Data(contentsOf: URL(fileURLWithPath: run + "/options.json")))
        else {
            throw FineTuneError.notResumable(
                runFolder: run, reason: "it has no readable options.json (is it a run folder?)")
        }
        guard let status = status(of: run) else {
            throw FineTuneError.notResumable(runFolder: run, reason: "it has no readable status.json")
        }
        return (options, status)
    }

    static func writeStatus(_ run: String, _ state: State, epochs: Int) throws {
        let status = Status(state: state, epochs: epochs, updated: ISO8601DateFormatter().string(from: Date()))
        try AtomicFile.write(try JSONEncoder().encode(status), to: run + "/status.json")
    }

    /// The status of the run folder holding `path` (the folder itself or a file in it), or
    /// nil when it is not a run folder.
    public static func status(of path: String) -> Status? {
        var isFolder: ObjCBool = false
        let folder =
            FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) && isFolder.boolValue
            ? path : (path as NSString).deletingLastPathComponent
        let file = (folder.isEmpty ? "." : folder) + "/status.json"
        return try? JSONDecoder().decode(Status.self, from: Data(contentsOf: URL(fileURLWithPath: file)))
    }

    /// A warning for a model file whose run has not finished, or nil.
    public static func incompleteWarning(for model: String) -> String? {
        guard let status = status(of: model), status.state != .finished else { return nil }
        let folder = (model as NSString).deletingLastPathComponent
        return
            "\(folder) is an incomplete run (\(status.state.rawValue) after \(status.epochs) epochs): \(model) holds the "
            + "best epoch so far; continue it from \(folder)/checkpoint.h5 with `finetune resume \(folder)`"
    }

    /// loss.png and accuracy.png (training and validation per epoch, the best epoch marked)
    /// and confusion.png (validation split, class names, counts and row percentages).
    static func writeCharts(_ run: String, history: [EpochRecord], confusion: [[Int]], classNames: [String], best: Int?,
                            monitor: Monitor) throws {
        let name = (run as NSString).lastPathComponent
        try Charts.curves(title: "\(name): loss", yTitle: "cross-entropy loss",
                          series: [.init("training", history.map(\.trainLoss)),
                                   .init("validation", history.map { $0.validationLoss ?? .nan })],
                          bestEpoch: best).writePNG(to: run + "/loss.png")
        try Charts.curves(title: "\(name): accuracy", yTitle: "accuracy",
                          series: [.init("training", history.map(\.trainAccuracy)),
                                   .init("validation", history.map { $0.validationAccuracy ?? .nan })],
                          bestEpoch: best, percent: true).writePNG(to: run + "/accuracy.png")
        try Charts.confusion(confusion, classNames: classNames, title: "\(name): validation confusion matrix")
            .writePNG(to: run + "/confusion.png")
    }

    static func summary(
        run: String, plan: FineTune.Plan, recipe: String, history: [EpochRecord], best: Int?,
        validation: Evaluation, test: Evaluation?, classNames: [String], failure: Error?
    ) -> String {
        let options = plan.options
        var lines = [
            "run: \(run)", "base: \(plan.entry.name), freeze: \(options.freeze), size \(plan.size)",
            "recipe: \(recipe)",
            "epochs run: \(history.count), best epoch: \(best.map(String.init) ?? "none") (by \(options.monitor.rawValue))",
            String(
                format:
                    "validation accuracy: %.2f%% (the validation split also chose the epoch, so this is optimistic)",
                validation.accuracy * 100),
        ]
        if let test {
            lines.append(
                String(
                    format: "held-out test accuracy: %.2f%% (%d images never used in training or selection)",
                    test.accuracy * 100, test.confusion.joined().reduce(0, +)))
        }
        lines += ["", "confusion matrix on the validation split (rows: true class, columns: predicted):"]
        let width = max(8, (classNames.map(\.count).max() ?? 0) + 1)
        lines.append(
            String(repeating: " ", count: width)
                + classNames.map { $0.padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
        for (i, row) in validation.confusion.enumerated() {
            lines.append(
                classNames[i].padding(toLength: width, withPad: " ", startingAt: 0)
                    + row.map { String($0).padding(toLength: width, withPad: " ", startingAt: 0) }.joined())
        }
        if let advice = FitDiagnosis.advice(history, bestEpoch: best, options: options) {
            lines += ["", "diagnosis: \(advice)"]
        }
        if let failure { lines += ["", "TRAINING DIVERGED: \(failure)"] }
        return lines.joined(separator: "\n") + "\n"
    }
}
