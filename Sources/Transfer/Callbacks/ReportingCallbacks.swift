import Engine
import Foundation
import Logging

/// Appends every epoch's record to a JSON-lines file (one object per line, keys sorted).
public final class JSONLog: TrainingCallback {
    /// The JSON-lines file (a run's `log.jsonl`).
    public let path: String
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// A log written to `path`, which is rewritten when fit begins.
    public init(path: String) { self.path = path }

    /// Rewrites the file with the history so far: empty for a new fit, the checkpoint's epochs when
    /// resuming.
    public func fitBegan(_ context: TrainingContext) throws {
        // A resumed run rewrites the log from the checkpoint's history, so it never holds the
        // epochs that ran after the checkpoint and were lost.
        var text = Data()
        for record in context.history { text += try encoder.encode(record) + Data("\n".utf8) }
        try AtomicFile.write(text, to: path)
    }

    /// Appends the epoch's record as one line.
    public func epochEnded(_ context: TrainingContext) throws {
        guard let record = context.record else { return }
        try AtomicFile.append(try encoder.encode(record) + Data("\n".utf8), to: path)
    }
}

/// Shows progress: on a terminal (standard error) a bar with images/s and ETA that rewrites
/// itself; in a file or CI log one line per epoch only (keras#13716: bars must not flood logs).
/// Epoch lines are `info` messages of `log`; the bar is drawn only when `info` is logged.
public final class ProgressDisplay: TrainingCallback {
    /// Whether to draw the self-rewriting bar (standard error is a terminal).
    public let terminal: Bool
    private let log: Logger

    /// A display for `log`; `terminal` draws the bar between epoch lines.
    public init(terminal: Bool, log: Logger = .graft) {
        self.terminal = terminal
        self.log = log
    }

    /// Redraws the bar on standard error (when shown): the epoch's progress, images per second and the
    /// estimated seconds left.
    public func batchEnded(_ context: TrainingContext) throws {
        guard showsBar else { return }
        let done = Double(context.batch) / Double(max(context.batchesPerEpoch, 1))
        let width = 30
        let bar = String(repeating: "#", count: Int(done * Double(width))).padding(
            toLength: width, withPad: ".", startingAt: 0)
        let seconds = Date().timeIntervalSince(context.epochStarted)
        let rate = Double(context.imagesSeen) / max(seconds, 1e-9)
        let text = String(
            format: "\repoch %d/%d [%@] %3.0f%%  %.0f img/s  ETA %.0f s ", context.epoch, context.epochs, bar,
            done * 100, rate, seconds / max(done, 1e-9) - seconds)
        FileHandle.standardError.write(Data(text.utf8))
    }

    private var showsBar: Bool { terminal && log.logLevel <= .info }

    /// Clears the bar and logs the epoch's line: training and validation loss and accuracy, learning
    /// rate, images per second and the phase.
    public func epochEnded(_ context: TrainingContext) throws {
        guard let r = context.record else { return }
        if showsBar { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
        var line = String(
            format: "epoch %2d/%d  loss %.4f  acc %.1f%%", r.epoch, context.epochs, r.trainLoss, r.trainAccuracy * 100)
        if let loss = r.validationLoss, let accuracy = r.validationAccuracy {
            line += String(format: "  val loss %.4f  val acc %.1f%%", loss, accuracy * 100)
        }
        line += String(format: "  lr %.3g  %.0f img/s", r.learningRate, r.imagesPerSecond)
        if let phase = r.phase { line += "  (\(phase))" }
        log.info("\(line)")
    }

    /// Ends the bar's line when fit stops in the middle of an epoch.
    public func fitEnded(_ context: TrainingContext) throws {
        if showsBar && context.record == nil && context.batch > 0 { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Writes the trainer's checkpoint (`TrainingCheckpoint`) atomically when fit begins and
/// after every epoch, so an interrupted or killed run loses at most the epoch in progress.
/// Put it last among the callbacks: it saves the state the others left.
public final class Checkpointing: TrainingCallback {
    /// The checkpoint file (a run's `checkpoint.h5`).
    public let path: String
    /// Stored with every checkpoint (e.g. the run's options).
    public var extra: [String: String]
    /// The complete epochs in the last checkpoint written (0: the state before the first
    /// epoch); nil before the first save.
    public private(set) var lastSaved: Int?

    /// Checkpoints to `path`, each carrying `extra`.
    public init(path: String, extra: [String: String] = [:]) {
        self.path = path
        self.extra = extra
    }

    /// Saves the starting state, unless resuming (the checkpoint resumed from is that state).
    public func fitBegan(_ context: TrainingContext) throws {
        if !context.isResuming { try save(context) }
    }

    /// Saves the state after the epoch, the epoch's record included in the history.
    public func epochEnded(_ context: TrainingContext) throws { try save(context) }

    private func save(_ context: TrainingContext) throws {
        var checkpoint = try context.trainer.checkpoint(extra: extra)
        if let record = context.record, checkpoint.history.last?.epoch != record.epoch {
            checkpoint.history.append(record)
            checkpoint.epoch = checkpoint.history.count
        }
        try checkpoint.write(to: path)
        lastSaved = checkpoint.epoch
    }
}
