import Foundation

/// A value of a restricted Python pickle: only what a PyTorch `state_dict` is made of.
///
/// Lists and dicts are boxes (reference types), as in Python, so that `APPEND` and
/// `SETITEMS` after a memo `PUT` reach every reference to the same object.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
    case bytes([UInt8])
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allowed global (a class or function named by `GLOBAL`).
    case global(String)
    /// A persistent id resolved by the checkpoint: one storage of raw tensor data.
    case storage(TorchStorageReference)
    /// The result of `torch._utils._rebuild_tensor_v2`.
    case tensor(TorchTensorReference)

    var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    var int: Int? {
        if case .int(let i) = self { return i }
        return nil
    }
    var items: [PickleValue]? {
        switch self {
        case .tuple(let items): return items
        case .list(let list): return list.items
        default: return nil
        }
    }
    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .string: return "str"
        case .bytes: return "bytes"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let name): return name
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

final class PickleList {
    var items: [PickleValue] = []
}

/// An insertion-ordered dict (Python's dicts and `collections.OrderedDict` alike).
final class PickleDict {
    var entries: [(key: PickleValue, value: PickleValue)] = []
}

/// One storage of a checkpoint: its element type (the storage class, e.g. `FloatStorage`),
/// where its bytes are (`key`), and how many elements it holds.
struct TorchStorageReference {
    let type: String
    let key: String
    let count: Int
    /// Legacy checkpoints: a view into another storage starts this many elements in.
    var offset = 0
}

/// A tensor as `_rebuild_tensor_v2(storage, offset, size, stride, …)` describes it.
struct TorchTensorReference {
    let storage: TorchStorageReference
    let offset: Int
    let shape: [Int]
    let strides: [Int]
}

/// Why a pickle was refused.
public enum PickleError: Error, CustomStringConvertible {
    /// The pickle names a global (class or function) outside what a state_dict needs; `name` is its
    /// qualified name.
    case forbiddenGlobal(path: String, name: String)
    /// The pickle does something a state_dict pickle does not (an opcode `torch.save` does not
    /// write, a call of another function, …); `what` says what.
    case unsupported(path: String, what: String)
    /// The pickle is damaged (it ends early, the stack runs empty, a memo is missing, …).
    case malformed(path: String, problem: String)

    /// A message naming the file, explaining the refusal and what to save or run instead.
    public var description: String {
        switch self {
        case .forbiddenGlobal(let path, let name):
            return "\(path): the checkpoint's pickle names \(name), which is not part of a state_dict. "
                + "A pickle is a program, so Graft reads only the classes a state_dict needs (OrderedDict, "
                + "torch tensors and storages) and refuses the rest. Save `model.state_dict()` instead of the "
                + "whole model, or, if you trust the file, convert it with scripts/convert_torch.py --allow-pickle"
        case .unsupported(let path, let what):
            return "\(path): \(what) is not part of a state_dict pickle; save `model.state_dict()` with torch.save"
        case .malformed(let path, let problem):
            return "\(path): the pickle is damaged (\(problem)); re-download or re-save the checkpoint"
        }
    }
}

/// A restricted unpickler (protocols 2 to 5, the opcodes `torch.save` writes). Globals are
/// checked against `allowedGlobals` before anything is built; persistent ids (the storages)
/// are handed to `persistentLoad`. Reference: CPython's Lib/pickle.py and pickletools.py.
struct RestrictedUnpickler {
    static let storageTypes: Set<String> = [
        "FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
        "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
    ]
    static let allowedGlobals = Set(
        ["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter"]
            + storageTypes.map { "torch.\($0)" })

    let path: String
    let bytes: [UInt8]
    var position: Int
    let persistentLoad: (PickleValue) throws -> PickleValue

    init(path: String, bytes: [UInt8], position: Int = 0, persistentLoad: @escaping (PickleValue) throws -> PickleValue)
    {
        self.path = path
        self.bytes = bytes
        self.position = position
        self.persistentLoad = persistentLoad
    }

    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]

    /// Reads one pickle (up to its STOP) and returns its value; `position` is left after it.
    mutating func load() throws -> PickleValue {
        stack = []
        marks = []
        memo = [:]
        while true {
            let opcode = try byte()
            if opcode == UInt8(ascii: ".") {
                return try pop()
            }
            try execute(opcode)
        }
    }

    private mutating func execute(_ opcode: UInt8) throws {
        switch opcode {
        case 0x80: _ = try byte()  // PROTO
        case 0x95: _ = try read(8)  // FRAME (protocol 4): the length of the next frame
        case UInt8(ascii: "}"): stack.append(.dict(PickleDict()))
        case UInt8(ascii: "]"): stack.append(.list(PickleList()))
        case UInt8(ascii: ")"): stack.append(.tuple([]))
        case UInt8(ascii: "("): marks.append(stack.count)
        case UInt8(ascii: "N"): stack.append(.none)
        case 0x88: stack.append(.bool(true))
        case 0x89: stack.append(.bool(false))
        case UInt8(ascii: "K"): stack.append(.int(Int(try byte())))
        case UInt8(ascii: "M"): stack.append(.int(try littleEndian(2)))
        case UInt8(ascii: "J"): stack.append(.int(Int(Int32(truncatingIfNeeded: try littleEndian(4)))))
        case 0x8a: stack.append(.int(try long(Int(try byte()))))
        case UInt8(ascii: "G"): stack.append(.float(Double(bitPattern: UInt64(bigEndianBytes: try read(8)))))
        case UInt8(ascii: "X"): stack.append(.string(try utf8(try littleEndian(4))))
        case 0x8c: stack.append(.string(try utf8(Int(try byte()))))
        case 0x8d: stack.append(.string(try utf8(try littleEndian(8))))
        case UInt8(ascii: "C"): stack.append(.bytes(try read(Int(try byte()))))
        case UInt8(ascii: "B"): stack.append(.bytes(try read(try littleEndian(4))))
        case UInt8(ascii: "q"): memo[Int(try byte())] = try top()
        case UInt8(ascii: "r"): memo[try littleEndian(4)] = try top()
        case 0x94: memo[memo.count] = try top()  // MEMOIZE
        case UInt8(ascii: "h"): stack.append(try fetch(Int(try byte())))
        case UInt8(ascii: "j"): stack.append(try fetch(try littleEndian(4)))
        case UInt8(ascii: "c"): stack.append(try global(module: try line(), name: try line()))
        case 0x93:  // STACK_GLOBAL
            let name = try pop()
            let module = try pop()
            guard let n = name.string, let m = module.string else { throw malformed("STACK_GLOBAL of non-strings") }
            stack.append(try global(module: m, name: n))
        case UInt8(ascii: "Q"): stack.append(try persistentLoad(try pop()))
        case UInt8(ascii: "t"): stack.append(.tuple(try popMark()))
        case 0x85: stack.append(.tuple([try pop()]))
        case 0x86:
            let b = try pop()
            stack.append(.tuple([try pop(), b]))
        case 0x87:
            let c = try pop()
            let b = try pop()
            stack.append(.tuple([try pop(), b, c]))
        case UInt8(ascii: "R"):
            let arguments = try pop()
            let callable = try pop()
            stack.append(try reduce(callable, arguments))
        case UInt8(ascii: "b"): try build(state: try pop())
        case UInt8(ascii: "a"):
            let value = try pop()
            try append([value])
        case UInt8(ascii: "e"): try append(try popMark())
        case UInt8(ascii: "s"):
            let value = try pop()
            let key = try pop()
            try setItems([key, value])
        case UInt8(ascii: "u"): try setItems(try popMark())
        default:
            throw PickleError.unsupported(
                path: path, what: "pickle opcode 0x\(String(opcode, radix: 16)) at byte \(position - 1)")
        }
    }

    private func global(module: String, name: String) throws -> PickleValue {
        let qualified = "\(module).\(name)"
        guard Self.allowedGlobals.contains(qualified) else {
            throw PickleError.forbiddenGlobal(path: path, name: qualified)
        }
        return .global(qualified)
    }

    private func reduce(_ callable: PickleValue, _ arguments: PickleValue) throws -> PickleValue {
        guard case .global(let name) = callable, let args = arguments.items else {
            throw malformed("REDUCE of \(callable.kind) with \(arguments.kind)")
        }
        switch name {
        case "collections.OrderedDict":
            guard args.isEmpty else {
                throw PickleError.unsupported(path: path, what: "OrderedDict built from arguments")
            }
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2":
            guard args.count >= 4, case .storage(let storage) = args[0], let offset = args[1].int,
                let shape = args[2].items?.compactMap(\.int), let strides = args[3].items?.compactMap(\.int),
                shape.count == strides.count, shape.count == args[2].items?.count
            else { throw malformed("_rebuild_tensor_v2 with arguments \(args.map(\.kind))") }
            return .tensor(TorchTensorReference(storage: storage, offset: offset, shape: shape, strides: strides))
        case "torch._utils._rebuild_parameter":
            guard let data = args.first, case .tensor = data else {
                throw malformed("_rebuild_parameter without a tensor")
            }
            return data
        default:
            throw PickleError.unsupported(path: path, what: "calling \(name)")
        }
    }

    /// BUILD sets an object's state: a state_dict's `_metadata` attribute, which Graft ignores.
    private mutating func build(state: PickleValue) throws {
        guard case .dict = try top() else {
            throw PickleError.unsupported(path: path, what: "BUILD on \(try top().kind)")
        }
    }

    private mutating func append(_ values: [PickleValue]) throws {
        guard case .list(let list) = try top() else { throw malformed("APPEND to \(try top().kind)") }
        list.items += values
    }

    private mutating func setItems(_ flat: [PickleValue]) throws {
        guard case .dict(let dict) = try top(), flat.count % 2 == 0 else {
            throw malformed("SETITEMS on \(try top().kind)")
        }
        for i in stride(from: 0, to: flat.count, by: 2) {
            dict.entries.append((flat[i], flat[i + 1]))
        }
    }

    // MARK: reading bytes and the stack

    private func malformed(_ problem: String) -> PickleError { .malformed(path: path, problem: problem) }

    private mutating func byte() throws -> UInt8 {
        guard position < bytes.count else { throw malformed("it ends at byte \(position) before its STOP opcode") }
        position += 1
        return bytes[position - 1]
    }

    private mutating func read(_ count: Int) throws -> [UInt8] {
        guard count >= 0, count <= bytes.count - position else {
            throw malformed("a \(count)-byte field at byte \(position) runs past the end")
        }
        position += count
        return Array(bytes[(position - count)..<position])
    }

    private mutating func littleEndian(_ count: Int) throws -> Int {
        let field = try read(count)
        var value: UInt64 = 0
        for (i, b) in field.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        guard value <= UInt64(Int.max) else { throw malformed("a length of \(value)") }
        return Int(value)
    }

    /// LONG1: a little-endian two's-complement integer of `count` bytes.
    private mutating func long(_ count: Int) throws -> Int {
        let field = try read(count)
        guard count <= 8 else { return field.last.map { $0 & 0x80 != 0 ? Int.min : Int.max } ?? 0 }
        var value: UInt64 = 0
        for (i, b) in field.enumerated() { value |= UInt64(b) << (8 * UInt64(i)) }
        if count > 0, count < 8, field[count - 1] & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(count)) }
        return Int(Int64(bitPattern: value))
    }

    private mutating func utf8(_ count: Int) throws -> String {
        guard let s = String(bytes: try read(count), encoding: .utf8) else {
            throw malformed("a string that is not UTF-8")
        }
        return s
    }

    private mutating func line() throws -> String {
        guard let end = bytes[position...].firstIndex(of: UInt8(ascii: "\n")) else {
            throw malformed("GLOBAL without a newline")
        }
        let text = try utf8(end - position)
        position += 1
        return text
    }

    private func top() throws -> PickleValue {
        guard let value = stack.last else {
            throw malformed("an opcode at byte \(position) needs a value, the stack is empty")
        }
        return value
    }

    private mutating func pop() throws -> PickleValue {
        guard let value = stack.popLast() else {
            throw malformed("an opcode at byte \(position) needs a value, the stack is empty")
        }
        return value
    }

    private mutating func popMark() throws -> [PickleValue] {
        guard let mark = marks.popLast(), mark <= stack.count else {
            throw malformed("an opcode at byte \(position) needs a MARK")
        }
        let values = Array(stack[mark...])
        stack.removeSubrange(mark...)
        return values
    }

    private func fetch(_ index: Int) throws -> PickleValue {
        guard let value = memo[index] else { throw malformed("GET of memo \(index), which was never PUT") }
        return value
    }
}

extension UInt64 {
    init(bigEndianBytes bytes: [UInt8]) {
        self = bytes.reduce(0) { $0 << 8 | UInt64($1) }
    }
}
