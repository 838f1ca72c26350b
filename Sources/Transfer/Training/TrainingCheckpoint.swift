import Engine
import Foundation
import Layers
import Zoo

/// Everything a run needs to continue exactly where it stopped: the model's parameters and
/// buffers, the optimiser's state (moments, step count: the schedule's position), every
/// checkpointable callback's state (early stopping's best weights and patience, …) and the
/// finished epochs' records. The data order, augmentation and dropout masks follow from the
/// seed and the epoch or step, so they need no saving.
///
/// On disk: one HDF5 file, written atomically (a crash or a kill leaves the previous one):
/// datasets `model/KEY`, `optimizer/INDEX`, `callbacks/NAME/KEY`, and the root attribute
/// `graft_checkpoint` (JSON: epoch, history, optimizer state, callbacks' JSON, `extra`).
public struct TrainingCheckpoint {
    /// Epochs finished.
    public var epoch: Int
    /// The records of the finished epochs, in order.
    public var history: [EpochRecord]
    /// The model's parameters and buffers by dotted key.
    public var tensors: [String: Tensor]
    /// The optimiser's state as JSON (step count, hyperparameters, …), from `stateArchive()`.
    public var optimizerJSON: Data
    /// The optimiser's state tensors (moments, …) in the order its JSON refers to them.
    public var optimizerTensors: [Tensor]
    /// Each checkpointable callback's state, by `checkpointName`.
    public var callbacks: [String: CallbackState]
    /// Anything the caller wants back on resume (FineTune keeps its options here).
    public var extra: [String: String]
    /// The file it was read from (nil for one made in memory); errors name it.
    public var path: String?

    /// The format tag in the file's header; files with another tag are refused.
    public static let format = "graft-checkpoint-1"

    private struct Header: Codable {
        var format: String
        var epoch: Int
        var history: [EpochRecord]
        var optimizer: String
        var optimizerTensors: Int
        var callbacks: [String: String]
        var callbackTensors: [String: [String]]
        var extra: [String: String]
    }

    /// Writes the checkpoint to `path` atomically (the previous file survives a crash or a kill).
    public func write(to path: String) throws {
        let header = Header(
            format: Self.format, epoch: epoch, history: history,
            optimizer: String(decoding: optimizerJSON, as: UTF8.self), optimizerTensors: optimizerTensors.count,
            callbacks: callbacks.mapValues { String(decoding: $0.json, as: UTF8.self) },
            callbackTensors: callbacks.mapValues { $0.tensors.keys.sorted() }, extra: extra)
        let json = String(decoding: try JSONEncoder().encode(header), as: UTF8.self)
        try HDF5File.write(atomicallyTo: path) { file in
            for (key, tensor) in tensors.sorted(by: { $0.key < $1.key }) { try file.write(tensor, at: "model/" + key) }
            for (i, tensor) in optimizerTensors.enumerated() { try file.write(tensor, at: "optimizer/\(i)") }
            for (name, state) in callbacks.sorted(by: { $0.key < $1.key }) {
                for (key, tensor) in state.tensors.sorted(by: { $0.key < $1.key }) {
                    try file.write(tensor, at: "callbacks/\(name)/\(key)")
                }
            }
            try file.writeStrings([json], name: "graft_checkpoint", scalar: true)
        }
    }

    /// Reads a checkpoint written by `write(to:)`, under a watchdog against damaged files that make libhdf5 loop.
    /// - Throws: `HDF5Error` for unreadable files, `CheckpointError.notACheckpoint` for other kinds of files.
    public static func read(_ path: String) throws -> TrainingCheckpoint {
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return try Watchdog.run(seconds: Watchdog.readLimit(bytes: bytes),
                                message: "\(path): libhdf5 did not finish reading it; the checkpoint is damaged") {
            try readFile(path)
        }
    }

    private static func readFile(_ path: String) throws -> TrainingCheckpoint {
        let file = try HDF5File(reading: path)
        guard file.hasAttribute("graft_checkpoint"), let text = try file.readStrings("graft_checkpoint").first,
            let header = try? JSONDecoder().decode(Header.self, from: Data(text.utf8)), header.format == format
        else {
            throw CheckpointError.notACheckpoint(path: path)
        }
        var tensors: [String: Tensor] = [:]
        for key in try file.children(of: "model") { tensors[key] = try file.readTensor("model/" + key) }
        let optimizerTensors = try (0..<header.optimizerTensors).map { try file.readTensor("optimizer/\($0)") }
        var callbacks: [String: CallbackState] = [:]
        for (name, json) in header.callbacks {
            var named: [String: Tensor] = [:]
            for key in header.callbackTensors[name] ?? [] {
                named[key] = try file.readTensor("callbacks/\(name)/\(key)")
            }
            callbacks[name] = CallbackState(json: Data(json.utf8), tensors: named)
        }
        return TrainingCheckpoint(
            epoch: header.epoch, history: header.history, tensors: tensors,
            optimizerJSON: Data(header.optimizer.utf8), optimizerTensors: optimizerTensors,
            callbacks: callbacks, extra: header.extra, path: path)
    }
}

/// Why a training checkpoint cannot be used.
public enum CheckpointError: Error, CustomStringConvertible {
    /// The file has no readable `graft_checkpoint` header of this format.
    case notACheckpoint(path: String)
    /// The checkpoint does not fit the model being resumed (a missing or misshapen tensor); `reason` says which.
    case mismatch(path: String, reason: String)

    /// A one-line message naming the file.
    public var description: String {
        switch self {
        case .notACheckpoint(let path):
            return "\(path): not a Graft training checkpoint (damaged, or another kind of file)"
        case .mismatch(let path, let reason): return "\(path): does not fit this run: \(reason)"
        }
    }
}

extension Trainer {
    /// The trainer's state now, with `extra` (see `TrainingCheckpoint`).
    public func checkpoint(extra: [String: String] = [:]) throws -> TrainingCheckpoint {
        var tensors: [String: Tensor] = [:]
        for (key, parameter) in model.namedParameters { tensors[key] = parameter.value }
        for (key, buffer) in model.namedBuffers { tensors[key] = buffer.value }
        let (json, optimizerTensors) = try optimizer.stateArchive()
        var states: [String: CallbackState] = [:]
        for case let callback as CheckpointableCallback in callbacks {
            states[callback.checkpointName] = try callback.checkpointState()
        }
        return TrainingCheckpoint(
            epoch: context?.history.count ?? 0, history: context?.history ?? [], tensors: tensors,
            optimizerJSON: json, optimizerTensors: optimizerTensors, callbacks: states, extra: extra)
    }

    /// Puts a checkpoint's state back: weights, optimiser, callbacks, history.
    func restore(_ checkpoint: TrainingCheckpoint, into context: TrainingContext) throws {
        let slots =
            model.namedParameters.map { ($0.key, $0.parameter.value.shape) }
            + model.namedBuffers.map { ($0.key, $0.buffer.value.shape) }
        for (key, shape) in slots {
            let file = checkpoint.path ?? "the checkpoint"
            guard let saved = checkpoint.tensors[key] else {
                throw CheckpointError.mismatch(path: file, reason: "it has no \(key)")
            }
            guard saved.shape == shape else {
                throw CheckpointError.mismatch(
                    path: file, reason: "\(key) is \(saved.shape), the model's \(shape)")
            }
        }
        for (key, parameter) in model.namedParameters { parameter.value = checkpoint.tensors[key]! }
        for (key, buffer) in model.namedBuffers { buffer.value = checkpoint.tensors[key]! }
        try optimizer.restoreState(json: checkpoint.optimizerJSON, tensors: checkpoint.optimizerTensors)
        for case let callback as CheckpointableCallback in callbacks {
            if let state = checkpoint.callbacks[callback.checkpointName] { try callback.restore(state) }
        }
        context.history = checkpoint.history
    }
}
