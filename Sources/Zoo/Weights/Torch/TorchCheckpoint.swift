import Engine
import Foundation
import ZIPFoundation

/// A PyTorch checkpoint (`torch.save` of a `state_dict`) read without Python.
///
/// Two containers: the zip archive of PyTorch ≥ 1.6 (`NAME/data.pkl`, the pickle, and
/// `NAME/data/KEY`, one raw little-endian storage per key), and the legacy format of older
/// releases (torchvision's 2017 VGG files): five pickles in a row (magic number, protocol,
/// system info, the object, the storage keys), then each storage as an 8-byte element count
/// and its bytes. The pickle goes through `RestrictedUnpickler`, which refuses any class a
/// state_dict does not need. Reference: torch/serialization.py.
public struct TorchCheckpoint {
    /// One tensor, converted to float32 (integer tensors such as `num_batches_tracked` too).
    public struct Entry {
        /// The state_dict key (`layer1.0.conv1.weight`), without a DataParallel `module.` prefix.
        public let key: String
        /// The tensor's shape in PyTorch's layout (conv weights OIHW, dense weights (out, in)).
        public let shape: [Int]
        /// The elements in row-major order of `shape`, gathered from the storage whatever the strides.
        public let values: [Float]
        /// The entry as a tensor of `shape` (still in PyTorch's layout).
        public var tensor: Tensor { Tensor(shape: shape, scalars: values) }
    }

    /// The file the checkpoint was read from.
    public let path: String
    /// The state_dict in file order, "module." prefixes (DataParallel) removed.
    public let entries: [Entry]

    /// The entry for a state_dict key, or nil when the checkpoint has none.
    public subscript(key: String) -> Entry? { entries.first { $0.key == key } }

    /// True when the file starts like a PyTorch checkpoint (a zip archive or a pickle).
    public static func looksLikeCheckpoint(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = [UInt8](handle.readData(ofLength: 2))
        return head == [0x50, 0x4b] || head == [0x80, 0x02]
    }

    /// Reads and parses the checkpoint at `path` (zip or legacy container), unwrapping a
    /// state_dict nested under `state_dict`, `model_state_dict` or `model`.
    /// - Throws: `TorchCheckpointError` for an unreadable, damaged or truncated file or one that is
    ///   not a state_dict; `PickleError` when the pickle names anything a state_dict does not need.
    public init(reading path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TorchCheckpointError.unreadable(path: path)
        }
        let bytes = [UInt8](data)
        var storages: [String: [UInt8]] = [:]
        let object: PickleValue
        if bytes.starts(with: [0x50, 0x4b, 0x03, 0x04]) {
            (object, storages) = try Self.readZip(path: path, data: data)
        } else if bytes.starts(with: [0x80, 0x02]) {
            (object, storages) = try Self.readLegacy(path: path, bytes: bytes)
        } else {
            throw TorchCheckpointError.notACheckpoint(path: path)
        }
        self.path = path
        self.entries = try Self.stateDict(object, path: path).map { key, tensor in
            try Self.entry(key: key, tensor, storages: storages, path: path)
        }
    }

    // MARK: containers

    private static func readZip(path: String, data: Data) throws -> (PickleValue, [String: [UInt8]]) {
        let archive: Archive
        do { archive = try Archive(data: data, accessMode: .read) } catch {
            throw TorchCheckpointError.damaged(path: path, problem: "not a readable zip archive (\(error))")
        }
        func contents(_ entry: ZIPFoundation.Entry) throws -> [UInt8] {
            var bytes: [UInt8] = []
            do { _ = try archive.extract(entry) { bytes += $0 } } catch {
                throw TorchCheckpointError.damaged(path: path, problem: "\(entry.path) cannot be read (\(error))")
            }
            return bytes
        }
        guard let pickle = archive.first(where: { $0.path == "data.pkl" || $0.path.hasSuffix("/data.pkl") }) else {
            throw TorchCheckpointError.damaged(
                path: path, problem: "a zip archive without data.pkl, so not saved by torch.save")
        }
        let prefix = String(pickle.path.dropLast("data.pkl".count))
        if let order = archive[prefix + "byteorder"], String(decoding: try contents(order), as: UTF8.self) != "little" {
            throw TorchCheckpointError.damaged(path: path, problem: "big-endian storages, which Graft does not read")
        }
        var keys: [String] = []
        var unpickler = RestrictedUnpickler(path: path, bytes: try contents(pickle)) { pid in
            let storage = try storageReference(pid, path: path)
            keys.append(storage.key)
            return .storage(storage)
        }
        let object = try unpickler.load()
        var storages: [String: [UInt8]] = [:]
        for key in Set(keys) {
            guard let entry = archive[prefix + "data/" + key] else {
                throw TorchCheckpointError.damaged(path: path, problem: "storage \(key) is missing from the archive")
            }
            storages[key] = try contents(entry)
        }
        return (object, storages)
    }

    private static func readLegacy(path: String, bytes: [UInt8]) throws -> (PickleValue, [String: [UInt8]]) {
        var position = 0
        func next(_ persistentLoad: @escaping (PickleValue) throws -> PickleValue = { _ in .none }) throws
            -> PickleValue
        {
            var unpickler = RestrictedUnpickler(
                path: path, bytes: bytes, position: position, persistentLoad: persistentLoad)
            let value = try unpickler.load()
            position = unpickler.position
            return value
        }
        guard case .int = try next() else { throw TorchCheckpointError.notACheckpoint(path: path) }  // the magic number
        guard try next().int == 1001 else {
            throw TorchCheckpointError.damaged(path: path, problem: "an unknown legacy protocol version")
        }
        _ = try next()  // system info: little-endian, type sizes
        var types: [String: String] = [:]
        let object = try next { pid in
            let storage = try storageReference(pid, path: path)
            types[storage.key] = storage.type
            return .storage(storage)
        }
        guard let keys = try next().items?.compactMap(\.string) else {
            throw TorchCheckpointError.damaged(path: path, problem: "no list of storage keys after the object")
        }
        var storages: [String: [UInt8]] = [:]
        for key in keys {
            guard position + 8 <= bytes.count else { throw TorchCheckpointError.truncated(path: path, storage: key) }
            let count = (0..<8).reduce(0) { $0 | Int(bytes[position + $1]) << (8 * $1) }
            let size = count * elementSize(types[key] ?? "FloatStorage")
            position += 8
            guard count >= 0, size <= bytes.count - position else {
                throw TorchCheckpointError.truncated(path: path, storage: key)
            }
            storages[key] = Array(bytes[position..<(position + size)])
            position += size
        }
        return (object, storages)
    }

    /// ('storage', torch.FloatStorage, key, location, count[, view metadata]).
    private static func storageReference(_ pid: PickleValue, path: String) throws -> TorchStorageReference {
        guard let fields = pid.items, fields.count >= 5, fields[0].string == "storage",
            case .global(let type) = fields[1], let key = fields[2].string ?? fields[2].int.map(String.init),
            let count = fields[4].int
        else { throw TorchCheckpointError.damaged(path: path, problem: "a persistent id that is not a storage") }
        var reference = TorchStorageReference(type: String(type.dropFirst("torch.".count)), key: key, count: count)
        if fields.count > 5, let view = fields[5].items, view.count >= 2, let offset = view[1].int {
            reference.offset = offset
        }
        return reference
    }

    // MARK: the state_dict

    /// The (key, tensor) pairs of a state_dict, or of one wrapped under "state_dict",
    /// "model_state_dict" or "model" (training checkpoints).
    private static func stateDict(_ object: PickleValue, path: String) throws -> [(String, TorchTensorReference)] {
        guard case .dict(let dict) = object else {
            throw TorchCheckpointError.notAStateDict(path: path, found: object.kind)
        }
        for wrapper in ["state_dict", "model_state_dict", "model"] {
            if let inner = dict.entries.first(where: { $0.key.string == wrapper })?.value, case .dict = inner {
                return try stateDict(inner, path: path)
            }
        }
        var pairs: [(String, TorchTensorReference)] = []
        for (key, value) in dict.entries {
            guard let name = key.string, case .tensor(let tensor) = value else {
                throw TorchCheckpointError.notAStateDict(path: path, found: "\(key.string ?? key.kind) = \(value.kind)")
            }
            pairs.append((name, tensor))
        }
        guard !pairs.isEmpty else { throw TorchCheckpointError.notAStateDict(path: path, found: "an empty dict") }
        if pairs.allSatisfy({ $0.0.hasPrefix("module.") }) {
            pairs = pairs.map { (String($0.0.dropFirst("module.".count)), $0.1) }
        }
        return pairs
    }

    static func elementSize(_ type: String) -> Int {
        switch type {
        case "DoubleStorage", "LongStorage": return 8
        case "FloatStorage", "IntStorage": return 4
        case "HalfStorage", "BFloat16Storage", "ShortStorage": return 2
        default: return 1
        }
    }

    /// Gathers a (possibly strided) tensor out of its storage as float32.
    private static func entry(key: String, _ tensor: TorchTensorReference, storages: [String: [UInt8]], path: String)
        throws -> Entry
    {
        let storage = tensor.storage
        guard let raw = storages[storage.key] else {
            throw TorchCheckpointError.truncated(path: path, storage: storage.key)
        }
        let size = elementSize(storage.type)
        let count = tensor.shape.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        var index = [Int](repeating: 0, count: tensor.shape.count)
        for i in 0..<count {
            let element = storage.offset + tensor.offset + zip(index, tensor.strides).reduce(0) { $0 + $1.0 * $1.1 }
            guard element >= 0, (element + 1) * size <= raw.count else {
                throw TorchCheckpointError.damaged(
                    path: path, problem: "\(key) reaches past the end of storage \(storage.key)")
            }
            values[i] = decode(raw, at: element * size, type: storage.type)
            for d in stride(from: index.count - 1, through: 0, by: -1) {
                index[d] += 1
                if index[d] < tensor.shape[d] { break }
                index[d] = 0
            }
        }
        return Entry(key: key, shape: tensor.shape, values: values)
    }

    private static func decode(_ raw: [UInt8], at offset: Int, type: String) -> Float {
        func bits(_ n: Int) -> UInt64 {
            (0..<n).reduce(UInt64(0)) { $0 | UInt64(raw[offset + $1]) << (8 * UInt64($1)) }
        }
        switch type {
        case "FloatStorage": return Float(bitPattern: UInt32(bits(4)))
        case "DoubleStorage": return Float(Double(bitPattern: bits(8)))
        case "HalfStorage": return Float(Float16(bitPattern: UInt16(bits(2))))
        case "BFloat16Storage": return Float(bitPattern: UInt32(bits(2)) << 16)
        case "LongStorage": return Float(Int64(bitPattern: bits(8)))
        case "IntStorage": return Float(Int32(bitPattern: UInt32(bits(4))))
        case "ShortStorage": return Float(Int16(bitPattern: UInt16(bits(2))))
        case "CharStorage": return Float(Int8(bitPattern: raw[offset]))
        default: return Float(raw[offset])
        }
    }
}

/// Why a PyTorch checkpoint could not be read.
public enum TorchCheckpointError: Error, CustomStringConvertible {
    /// The file does not exist or cannot be read.
    case unreadable(path: String)
    /// The file starts neither like a torch.save zip archive nor like the legacy format.
    case notACheckpoint(path: String)
    /// The container is broken or holds what Graft does not read (big-endian storages, …); `problem` says what.
    case damaged(path: String, problem: String)
    /// The file ends before the bytes of `storage` (or lacks them).
    case truncated(path: String, storage: String)
    /// The pickled object is not a non-empty dict of tensors; `found` describes what it is.
    case notAStateDict(path: String, found: String)

    /// A message naming the file and what to do (re-download, or save `model.state_dict()`).
    public var description: String {
        switch self {
        case .unreadable(let path): return "\(path): cannot be read (no such file, or no permission)"
        case .notACheckpoint(let path):
            return "\(path): not a PyTorch checkpoint (neither the zip archive of torch.save nor its legacy format)"
        case .damaged(let path, let problem): return "\(path): \(problem); re-download or re-save the checkpoint"
        case .truncated(let path, let storage):
            return "\(path): the file ends inside storage \(storage); it is truncated (re-download it)"
        case .notAStateDict(let path, let found):
            return "\(path): expected a state_dict (a dict of tensors), found \(found); save `model.state_dict()`"
        }
    }
}
