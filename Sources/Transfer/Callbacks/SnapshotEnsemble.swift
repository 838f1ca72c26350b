import Foundation
import Logging

/// Snapshot ensembles (Huang et al., 2017, "train 1, get M for free"; the lecture notes'
/// "use multiple snapshots of a single model during training"): under a warm-restart schedule
/// (`CosineWarmRestarts`), the model at the end of each cycle, where the rate is lowest, is
/// saved as one member. Averaging the members' probabilities (`Ensemble(files:)`) is the
/// ensemble. Files are written atomically; a resumed run rewrites the snapshot of an epoch it
/// repeats, so the files are those of the uninterrupted run.
public final class SnapshotSaver: TrainingCallback {
    /// The epochs (1-based) after which a snapshot is saved, one per cycle, ascending.
    public let epochs: [Int]
    /// The folder that receives `cycle-K.h5` (a run's `snapshots/`).
    public let folder: String
    private let save: (String) throws -> Void
    private let log: Logger

    /// Saves with `save(path)` after each epoch of `epochs`, to `folder/cycle-K.h5` (K from 1).
    public init(epochs: [Int], folder: String, log: Logger = .graft, save: @escaping (String) throws -> Void) {
        self.epochs = epochs
        self.folder = folder
        self.log = log
        self.save = save
    }

    /// The file of cycle `cycle` (1-based).
    public func path(cycle: Int) -> String { folder + "/cycle-\(cycle).h5" }

    /// The snapshot files written so far (or by an earlier, interrupted part of the run), in cycle order.
    public var savedFiles: [String] {
        epochs.indices.map { path(cycle: $0 + 1) }.filter { FileManager.default.fileExists(atPath: $0) }
    }

    /// Saves the model when the epoch ends a cycle.
    public func epochEnded(_ context: TrainingContext) throws {
        guard let index = epochs.firstIndex(of: context.epoch) else { return }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try save(path(cycle: index + 1))
        log.info(
            "snapshot \(index + 1) of \(epochs.count) (end of cycle, epoch \(context.epoch)): \(path(cycle: index + 1))"
        )
    }
}
