import Engine
import Foundation

/// Appends every epoch's record to a JSON-lines file (one object per line, keys sorted).
public final class JSONLog: TrainingCallback {
    public let path: String
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public init(path: String) { self.path = path }

    public func fitBegan(_ context: TrainingContext) throws {
        // A resumed run rewrites the log from the checkpoint's history, so it never holds the
        // epochs that ran after the checkpoint and were lost.
        var text = Data()
        for record in context.history { text += try encoder.encode(record) + Data("\n".utf8) }
        try AtomicFile.write(text, to: path)
    }

    public func epochEnded(_ context: TrainingContext) throws {
        guard let record = context.record else { return }
        try AtomicFile.append(try encoder.encode(record) + Data("\n".utf8), to: path)
    }
}

/// Shows progress: on a terminal a bar with images/s and ETA that rewrites itself; in a file
/// or CI log one line per epoch only (keras#13716: bars must not flood logs).
public final class ProgressDisplay: TrainingCallback {
    public let terminal: Bool
    private let say: (String) -> Void

    public init(terminal: Bool, say: @escaping (String) -> Void) {
        self.terminal = terminal
        self.say = say
    }

    public func batchEnded(_ context: TrainingContext) throws {
        guard terminal else { return }
        let done = Double(context.batch) / Double(max(context.batchesPerEpoch, 1))
        let width = 30
        let bar = String(repeating: "#", count: Int(done * Double(width))).padding(
            toLength: width, withPad: ".", startingAt: 0)
        let seconds = Date().timeIntervalSince(context.epochStarted)
        let rate = Double(context.imagesSeen) / max(seconds, 1e-9)
        print(
            String(
                format: "\repoch %d/%d [%@] %3.0f%%  %.0f img/s  ETA %.0f s ", context.epoch, context.epochs, bar,
                done * 100,
                rate, seconds / max(done, 1e-9) - seconds), terminator: "")
        fflush(stdout)
    }

    public func epochEnded(_ context: TrainingContext) throws {
        guard let r = context.record else { return }
        if terminal { print("\r", terminator: "") }
        var line = String(
            format: "epoch %2d/%d  loss %.4f  acc %.1f%%", r.epoch, context.epochs, r.trainLoss, r.trainAccuracy * 100)
        if let loss = r.validationLoss, let accuracy = r.validationAccuracy {
            line += String(format: "  val loss %.4f  val acc %.1f%%", loss, accuracy * 100)
        }
        line += String(format: "  lr %.3g  %.0f img/s", r.learningRate, r.imagesPerSecond)
        if let phase = r.phase { line += "  (\(phase))" }
        say(line)
    }

    public func fitEnded(_ context: TrainingContext) throws {
        if terminal && context.record == nil && context.batch > 0 { print("") }
    }
}

/// Writes the trainer's checkpoint (`TrainingCheckpoint`) atomically when fit begins and
/// after every epoch, so an interrupted or killed run loses at most the epoch in progress.
/// Put it last among the callbacks: it saves the state the others left.
public final class Checkpointing: TrainingCallback {
    public let path: String
    /// Stored with every checkpoint (e.g. the run's options).
    public var extra: [String: String]
    public private(set) var lastSaved: Int?

    public init(path: String, extra: [String: String] = [:]) {
        self.path = path
        self.extra = extra
    }

    public func fitBegan(_ context: TrainingContext) throws {
        if !context.isResuming { try save(context) }
    }

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
