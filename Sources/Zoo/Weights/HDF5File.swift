import CHDF5
import Engine
import Foundation

/// Errors from HDF5 files; each names the file and the object.
public enum HDF5Error: Error, CustomStringConvertible, Equatable {
    /// The file exists but lacks the HDF5 signature (truncated, or another format).
    case notHDF5(path: String)
    /// The file looks like HDF5 but libhdf5 cannot open it.
    case cannotOpen(path: String)
    /// The file, a group, a dataset or an attribute the reader needs is not there; `object` says which.
    case missing(path: String, object: String)
    /// `object` exists but is not what Graft can read (wrong type, rank or contents); `reason` says why.
    case unsupported(path: String, object: String, reason: String)
    /// A libhdf5 call failed while doing `operation` (writing, flushing, closing, …).
    case failed(path: String, operation: String)

    /// A one-line message naming the file and what to do about it.
    public var description: String {
        switch self {
        case .notHDF5(let path):
            return "\(path): not an HDF5 file (truncated, or another format); re-download or re-export it"
        case .cannotOpen(let path): return "\(path): cannot be opened as HDF5 (truncated or damaged?)"
        case .missing(let path, let object): return "\(path): has no \(object)"
        case .unsupported(let path, let object, let reason): return "\(path): \(object): \(reason)"
        case .failed(let path, let operation):
            return "\(path): HDF5 failed to \(operation) (disk full, or a damaged file?)"
        }
    }
}

/// A thin wrapper over HDF5's C API for what weight files need: groups, float32 datasets,
/// and string / number attributes (fixed- or variable-length strings, as h5py and Keras
/// write them). Objects are addressed by slash-separated paths from the root.
public final class HDF5File {
    /// The path the file was opened from, or will be written to (in-memory files); errors name it.
    public let path: String
    let id: hid_t

    private static let silence: Void = { H5Eset_auto2(graft_H5E_DEFAULT(), nil, nil) }()

    /// Opens an existing file for reading.
    public init(reading path: String) throws {
        _ = HDF5File.silence
        guard FileManager.default.fileExists(atPath: path) else {
            throw HDF5Error.missing(path: path, object: "file (no such path)")
        }
        guard H5Fis_hdf5(path) > 0 else { throw HDF5Error.notHDF5(path: path) }
        let id = H5Fopen(path, graft_H5F_ACC_RDONLY(), graft_H5P_DEFAULT())
        guard id >= 0 else { throw HDF5Error.cannotOpen(path: path) }
        self.path = path
        self.id = id
    }

    /// Creates an empty file in memory (HDF5's core driver, no backing store): HDF5 itself
    /// never touches the disk, so a full disk cannot leave it with a half-written file (which
    /// made libhdf5 1.10 crash at exit). `write(atomicallyTo:)` puts the bytes on disk.
    init(creatingInMemory path: String) throws {
        _ = HDF5File.silence
        let access = H5Pcreate(graft_H5P_FILE_ACCESS())
        defer { H5Pclose(access) }
        guard access >= 0, H5Pset_fapl_core(access, 1 << 20, false) >= 0 else {
            throw HDF5Error.failed(path: path, operation: "set up an in-memory file")
        }
        let name = "graft-memory-\(UUID().uuidString)"
        let creation = HDF5File.untimedCreation(graft_H5P_FILE_CREATE())
        defer { H5Pclose(creation) }
        let id = H5Fcreate(name, graft_H5F_ACC_TRUNC(), creation, access)
        guard id >= 0 else { throw HDF5Error.failed(path: path, operation: "create the file in memory") }
        self.path = path
        self.id = id
    }

    /// The complete file's bytes (in-memory files).
    func fileImage() throws -> [UInt8] {
        guard H5Fflush(id, H5F_SCOPE_GLOBAL) >= 0 else { throw HDF5Error.failed(path: path, operation: "flush") }
        let size = H5Fget_file_image(id, nil, 0)
        guard size > 0 else { throw HDF5Error.failed(path: path, operation: "take the file image") }
        var bytes = [UInt8](repeating: 0, count: size)
        guard H5Fget_file_image(id, &bytes, size) == size else {
            throw HDF5Error.failed(path: path, operation: "take the file image")
        }
        return bytes
    }

    /// Builds a new HDF5 file with `body` and writes it to `path` atomically (`AtomicFile`):
    /// a crash, a kill or a full disk leaves the old file, or none, never a broken one.
    public static func write(atomicallyTo path: String, _ body: (HDF5File) throws -> Void) throws {
        let file = try HDF5File(creatingInMemory: path)
        let bytes: [UInt8]
        do {
            try body(file)
            bytes = try file.fileImage()
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try AtomicFile.write(bytes, to: path)
    }

    private var closed = false

    deinit { if !closed { H5Fclose(id) } }

    /// Closes the file now, reporting a failure to write it out.
    public func close() throws {
        guard !closed else { return }
        closed = true
        guard H5Fclose(id) >= 0 else { throw HDF5Error.failed(path: path, operation: "close (write out) the file") }
    }

    // MARK: Objects

    /// Whether a link exists at `object` (every component is checked).
    public func exists(_ object: String) -> Bool {
        var prefix = ""
        for component in object.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + component
            guard H5Lexists(id, prefix, graft_H5P_DEFAULT()) > 0 else { return false }
        }
        return true
    }

    /// Whether `object` is a dataset.
    public func isDataset(_ object: String) -> Bool {
        guard exists(object) else { return false }
        let oid = H5Oopen(id, object, graft_H5P_DEFAULT())
        guard oid >= 0 else { return false }
        defer { H5Oclose(oid) }
        return H5Iget_type(oid) == H5I_DATASET
    }

    /// The names of a group's members, in name order.
    public func children(of group: String) throws -> [String] {
        let gid = try openGroup(group)
        defer { H5Gclose(gid) }
        var info = H5G_info_t()
        guard H5Gget_info(gid, &info) >= 0 else { throw HDF5Error.failed(path: path, operation: "list \(group)") }
        return try (0..<info.nlinks).map { i in
            let size = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, graft_H5P_DEFAULT())
            guard size >= 0 else { throw HDF5Error.failed(path: path, operation: "list \(group)") }
            var buffer = [CChar](repeating: 0, count: Int(size) + 1)
            H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buffer, buffer.count, graft_H5P_DEFAULT())
            return String(cString: buffer)
        }
    }

    private func openGroup(_ group: String) throws -> hid_t {
        guard group == "/" || exists(group) else { throw HDF5Error.missing(path: path, object: "group \(group)") }
        let gid = H5Gopen2(id, group, graft_H5P_DEFAULT())
        guard gid >= 0 else { throw HDF5Error.missing(path: path, object: "group \(group)") }
        return gid
    }

    /// Creates `group` and any missing parents.
    public func createGroup(_ group: String) throws {
        var prefix = ""
        for component in group.split(separator: "/") {
            prefix += (prefix.isEmpty ? "" : "/") + component
            if H5Lexists(id, prefix, graft_H5P_DEFAULT()) > 0 { continue }
            let creation = HDF5File.untimedCreation(graft_H5P_GROUP_CREATE())
            defer { H5Pclose(creation) }
            let gid = H5Gcreate2(id, prefix, graft_H5P_DEFAULT(), creation, graft_H5P_DEFAULT())
            guard gid >= 0 else { throw HDF5Error.failed(path: path, operation: "create group \(prefix)") }
            H5Gclose(gid)
        }
    }

    // MARK: Datasets

    /// An object-creation property list of `kind` (file, group, dataset) that leaves out the
    /// modification times HDF5 records by default: the same weights then give the same bytes,
    /// whenever they are saved (content hashes and byte comparisons rely on it).
    private static func untimedCreation(_ kind: hid_t) -> hid_t {
        let list = H5Pcreate(kind)
        H5Pset_obj_track_times(list, false)
        return list
    }

    /// Creates the dataset `object` of `type` over `space`, without modification times.
    private func createDataset(_ object: String, type: hid_t, space: hid_t) throws -> hid_t {
        let creation = HDF5File.untimedCreation(graft_H5P_DATASET_CREATE())
        defer { H5Pclose(creation) }
        let ds = H5Dcreate2(id, object, type, space, graft_H5P_DEFAULT(), creation, graft_H5P_DEFAULT())
        guard ds >= 0 else { throw HDF5Error.failed(path: path, operation: "create dataset \(object)") }
        return ds
    }

    /// Reads a numeric dataset as float32 (converting from float64 or integers).
    public func readTensor(_ object: String) throws -> Tensor {
        guard isDataset(object) else { throw HDF5Error.missing(path: path, object: "dataset \(object)") }
        let ds = H5Dopen2(id, object, graft_H5P_DEFAULT())
        guard ds >= 0 else { throw HDF5Error.missing(path: path, object: "dataset \(object)") }
        defer { H5Dclose(ds) }
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        let typeClass = H5Tget_class(type)
        guard typeClass == H5T_FLOAT || typeClass == H5T_INTEGER else {
            throw HDF5Error.unsupported(
                path: path, object: object, reason: "holds non-numeric data (HDF5 type class \(typeClass.rawValue))")
        }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0, rank <= 8 else {
            throw HDF5Error.unsupported(
                path: path, object: object, reason: "has rank \(rank); weights have at most 8 dimensions")
        }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        H5Sget_simple_extent_dims(space, &dims, nil)
        let shape = rank == 0 ? [] : dims.prefix(rank).map { Int(clamping: $0) }
        // A damaged header must not make us allocate terabytes: cap at 4 G values.
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, p <= 1 << 32 else {
                throw HDF5Error.unsupported(
                    path: path, object: object, reason: "claims shape \(shape), too large to be a weight")
            }
            count = p
        }
        var values = [Float](repeating: 0, count: count)
        if !values.isEmpty {
            guard
                H5Dread(ds, graft_H5T_NATIVE_FLOAT(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), &values)
                    >= 0
            else {
                throw HDF5Error.unsupported(
                    path: path, object: object, reason: "cannot be read as float32 (truncated file?)")
            }
        }
        return Tensor(shape: shape, scalars: values)
    }

    /// Writes `tensor` as a float32 dataset at `object` (parent groups are created).
    public func write(_ tensor: Tensor, at object: String) throws {
        let parent = object.split(separator: "/").dropLast().joined(separator: "/")
        if !parent.isEmpty { try createGroup(parent) }
        var dims = tensor.shape.map { hsize_t($0) }
        let space = tensor.rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(Int32(tensor.rank), &dims, nil)
        defer { H5Sclose(space) }
        let ds = try createDataset(object, type: graft_H5T_IEEE_F32LE(), space: space)
        defer { H5Dclose(ds) }
        let status = tensor.withUnsafeBufferPointer {
            H5Dwrite(
                ds, graft_H5T_NATIVE_FLOAT(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), $0.baseAddress)
        }
        guard status >= 0 else { throw HDF5Error.failed(path: path, operation: "write dataset \(object)") }
    }

    /// Writes 8-bit `bytes` as a uint8 dataset of `shape` at `object` (images, compactly).
    public func write(bytes: [UInt8], shape: [Int], at object: String) throws {
        ensure(shape.product == bytes.count, "HDF5File.write: \(bytes.count) bytes for shape \(shape)")
        var dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(shape.count), &dims, nil)
        defer { H5Sclose(space) }
        let ds = try createDataset(object, type: graft_H5T_NATIVE_UINT8(), space: space)
        defer { H5Dclose(ds) }
        let status = bytes.withUnsafeBufferPointer {
            H5Dwrite(
                ds, graft_H5T_NATIVE_UINT8(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), $0.baseAddress)
        }
        guard status >= 0 else { throw HDF5Error.failed(path: path, operation: "write dataset \(object)") }
    }

    /// Writes `values` as an int32 dataset at `object`.
    public func write(_ values: [Int32], at object: String) throws {
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        let ds = try createDataset(object, type: graft_H5T_NATIVE_INT32(), space: space)
        defer { H5Dclose(ds) }
        let status = values.withUnsafeBufferPointer {
            H5Dwrite(
                ds, graft_H5T_NATIVE_INT32(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), $0.baseAddress)
        }
        guard status >= 0 else { throw HDF5Error.failed(path: path, operation: "write dataset \(object)") }
    }

    /// Writes `values` as a dataset of fixed-length UTF-8 strings (NUL-padded; h5py reads
    /// them as bytes: `f["paths"].asstr()[...]`).
    public func writeStrings(_ values: [String], at object: String) throws {
        let size = max(1, values.map { $0.utf8.count }.max() ?? 1)
        let type = H5Tcopy(graft_H5T_C_S1())
        defer { H5Tclose(type) }
        H5Tset_size(type, size)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        H5Tset_cset(type, H5T_CSET_UTF8)
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        var bytes = [UInt8](repeating: 0, count: max(1, values.count * size))
        for (i, v) in values.enumerated() {
            bytes.replaceSubrange((i * size)..<(i * size + v.utf8.count), with: v.utf8)
        }
        let ds = try createDataset(object, type: type, space: space)
        defer { H5Dclose(ds) }
        guard H5Dwrite(ds, type, graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), &bytes) >= 0 else {
            throw HDF5Error.failed(path: path, operation: "write dataset \(object)")
        }
    }

    /// Reads a dataset of strings (fixed- or variable-length).
    public func readStringDataset(_ object: String) throws -> [String] {
        guard isDataset(object) else { throw HDF5Error.missing(path: path, object: "dataset \(object)") }
        let ds = H5Dopen2(id, object, graft_H5P_DEFAULT())
        guard ds >= 0 else { throw HDF5Error.missing(path: path, object: "dataset \(object)") }
        defer { H5Dclose(ds) }
        let type = H5Dget_type(ds)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING, H5Tis_variable_str(type) <= 0 else {
            throw HDF5Error.unsupported(path: path, object: object, reason: "is not a fixed-length string dataset")
        }
        let space = H5Dget_space(ds)
        defer { H5Sclose(space) }
        let count = Int(H5Sget_simple_extent_npoints(space))
        let size = H5Tget_size(type)
        guard count >= 0, count <= 1 << 28, size <= 1 << 16 else {
            throw HDF5Error.unsupported(path: path, object: object, reason: "is too large to be a list of names")
        }
        var bytes = [UInt8](repeating: 0, count: max(1, count * size))
        guard H5Dread(ds, type, graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), &bytes) >= 0 else {
            throw HDF5Error.failed(path: path, operation: "read dataset \(object)")
        }
        return (0..<count).map { i in
            String(decoding: bytes[(i * size)..<((i + 1) * size)].prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    // MARK: Attributes

    /// Whether `object` (default: the root) exists and has an attribute `name`.
    public func hasAttribute(_ name: String, on object: String = "/") -> Bool {
        (object == "/" || exists(object)) && H5Aexists_by_name(id, object, name, graft_H5P_DEFAULT()) > 0
    }

    private func withAttribute<R>(_ name: String, on object: String, _ body: (hid_t, hid_t, Int) throws -> R) throws
        -> R
    {
        guard hasAttribute(name, on: object) else {
            throw HDF5Error.missing(path: path, object: "attribute \(name) on \(object)")
        }
        let attr = H5Aopen_by_name(id, object, name, graft_H5P_DEFAULT(), graft_H5P_DEFAULT())
        guard attr >= 0 else { throw HDF5Error.missing(path: path, object: "attribute \(name) on \(object)") }
        defer { H5Aclose(attr) }
        let type = H5Aget_type(attr)
        defer { H5Tclose(type) }
        let space = H5Aget_space(attr)
        defer { H5Sclose(space) }
        return try body(attr, type, Int(H5Sget_simple_extent_npoints(space)))
    }

    /// A string or string-array attribute (fixed- or variable-length), as strings.
    public func readStrings(_ name: String, on object: String = "/") throws -> [String] {
        try withAttribute(name, on: object) { attr, type, count in
            if count == 0 { return [] }  // Keras writes an empty float array for layers without weights
            guard H5Tget_class(type) == H5T_STRING else {
                throw HDF5Error.unsupported(path: path, object: "attribute \(name)", reason: "is not a string")
            }
            let memory = H5Tcopy(graft_H5T_C_S1())
            defer { H5Tclose(memory) }
            if H5Tis_variable_str(type) > 0 {
                H5Tset_size(memory, graft_H5T_VARIABLE())
                H5Tset_cset(memory, H5Tget_cset(type))
                var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
                guard H5Aread(attr, memory, &pointers) >= 0 else {
                    throw HDF5Error.failed(path: path, operation: "read attribute \(name)")
                }
                defer { for p in pointers { H5free_memory(p) } }
                return pointers.map { $0.map { String(cString: $0) } ?? "" }
            }
            let size = H5Tget_size(type)
            H5Tset_size(memory, size)
            H5Tset_strpad(memory, H5T_STR_NULLPAD)  // NULLTERM would drop the last character of a full-width string
            var bytes = [UInt8](repeating: 0, count: count * size)
            guard H5Aread(attr, memory, &bytes) >= 0 else {
                throw HDF5Error.failed(path: path, operation: "read attribute \(name)")
            }
            return (0..<count).map { i in
                let slice = bytes[(i * size)..<((i + 1) * size)]
                return String(decoding: slice.prefix { $0 != 0 }, as: UTF8.self)
            }
        }
    }

    /// A numeric attribute as floats.
    public func readNumbers(_ name: String, on object: String = "/") throws -> [Float] {
        try withAttribute(name, on: object) { attr, type, count in
            let c = H5Tget_class(type)
            guard c == H5T_FLOAT || c == H5T_INTEGER else {
                throw HDF5Error.unsupported(path: path, object: "attribute \(name)", reason: "is not numeric")
            }
            var values = [Float](repeating: 0, count: count)
            guard H5Aread(attr, graft_H5T_NATIVE_FLOAT(), &values) >= 0 else {
                throw HDF5Error.failed(path: path, operation: "read attribute \(name)")
            }
            return values
        }
    }

    private func replaceAttribute(_ name: String, on object: String) {
        if hasAttribute(name, on: object) { H5Adelete_by_name(id, object, name, graft_H5P_DEFAULT()) }
    }

    /// Writes fixed-length, NUL-padded byte strings (numpy's 'S' dtype, as Keras writes
    /// `layer_names`); a single string is written as a scalar when `scalar` is true.
    public func writeStrings(_ values: [String], name: String, on object: String = "/", scalar: Bool = false) throws {
        replaceAttribute(name, on: object)
        let size = max(1, values.map { $0.utf8.count }.max() ?? 1)
        let type = H5Tcopy(graft_H5T_C_S1())
        defer { H5Tclose(type) }
        H5Tset_size(type, size)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        var dims = [hsize_t(values.count)]
        let space = scalar && values.count == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        var bytes = [UInt8](repeating: 0, count: values.count * size)
        for (i, v) in values.enumerated() { for (j, b) in v.utf8.enumerated() { bytes[i * size + j] = b } }
        try writeAttribute(name, on: object, type: type, space: space, bytes: &bytes)
    }

    /// Writes a float32 (or int32 when `integer`) array attribute.
    public func writeNumbers(_ values: [Float], name: String, on object: String = "/", integer: Bool = false) throws {
        replaceAttribute(name, on: object)
        var dims = [hsize_t(values.count)]
        let space = H5Screate_simple(1, &dims, nil)
        defer { H5Sclose(space) }
        if integer {
            var ints = values.map { Int32($0) }
            try ints.withUnsafeMutableBytes { raw in
                var bytes = [UInt8](raw)
                try writeAttribute(name, on: object, type: graft_H5T_NATIVE_INT32(), space: space, bytes: &bytes)
            }
        } else {
            var bytes = values.withUnsafeBytes { [UInt8]($0) }
            try writeAttribute(name, on: object, type: graft_H5T_NATIVE_FLOAT(), space: space, bytes: &bytes)
        }
    }

    private func writeAttribute(_ name: String, on object: String, type: hid_t, space: hid_t, bytes: inout [UInt8])
        throws
    {
        let attr = H5Acreate_by_name(
            id, object, name, type, space, graft_H5P_DEFAULT(), graft_H5P_DEFAULT(), graft_H5P_DEFAULT())
        guard attr >= 0 else { throw HDF5Error.failed(path: path, operation: "create attribute \(name) on \(object)") }
        defer { H5Aclose(attr) }
        guard H5Awrite(attr, type, &bytes) >= 0 else {
            throw HDF5Error.failed(path: path, operation: "write attribute \(name)")
        }
    }
}
