import Foundation

/// Why a file could not be written; every message names the file and what to do.
public enum FileWriteError: Error, CustomStringConvertible, Equatable {
    /// The disk (or the user's quota) is full: nothing was written, an older file is intact.
    case diskFull(path: String, bytes: Int)
    /// The folder the file should go into does not exist.
    case noFolder(path: String, folder: String)
    /// Anything else the system refused (permission, read-only disk, a folder in the way).
    case failed(path: String, reason: String)

    public var description: String {
        switch self {
        case .diskFull(let path, let bytes):
            let size = ByteCountFormatter.string(fromByteCount: Int64(bytes), countStyle: .file)
            return "\(path) was not written: the disk is full (it needs \(size)); free some space or write elsewhere."
                + " Any older file at that path is unchanged"
        case .noFolder(let path, let folder):
            return "\(path) was not written: the folder \(folder) does not exist; create it or choose another path"
        case .failed(let path, let reason):
            return "\(path) was not written: \(reason)"
        }
    }
}

/// Writes files so that a crash, a kill or a full disk never leaves a broken one: the bytes
/// go to a temporary file beside the target (`.NAME.tmp-PID-RANDOM`), are synced to disk and
/// renamed over the target. Temporaries left by a killed process are removed on the next
/// write of the same target.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        try data.withUnsafeBytes { try write($0, to: path) }
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Data(text.utf8), to: path)
    }

    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        let folder = folder(of: path)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder) else {
            throw FileWriteError.noFolder(path: path, folder: folder)
        }
        guard isFolder.boolValue else {
            throw FileWriteError.failed(path: path, reason: "\(folder) is a file, not a folder")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue {
            throw FileWriteError.failed(path: path, reason: "a folder of that name is in the way")
        }
        removeStaleTemporaries(of: path)
        let temporary = temporaryName(for: path)
        do {
            try writeAndSync(bytes, to: temporary, reporting: path)
            guard rename(temporary, path) == 0 else { throw error(errno, path: path, bytes: bytes.count) }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Appends `data` to `path` (created if missing), for logs that grow line by line; a full
    /// disk is reported as such. A crash can at worst cut the last line short.
    public static func append(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, path: path, bytes: data.count) }
        defer { close(fd) }
        try data.withUnsafeBytes { bytes in
            var written = 0
            while written < bytes.count {
                let n = Foundation.write(fd, bytes.baseAddress! + written, bytes.count - written)
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { throw error(n == 0 ? ENOSPC : errno, path: path, bytes: bytes.count) }
                written += n
            }
        }
    }

    static func folder(of path: String) -> String {
        let folder = (path as NSString).deletingLastPathComponent
        return folder.isEmpty ? "." : folder
    }

    static func temporaryPrefix(for path: String) -> String {
        ".\((path as NSString).lastPathComponent).tmp-"
    }

    static func temporaryName(for path: String) -> String {
        folder(of: path) + "/" + temporaryPrefix(for: path) + "\(getpid())-\(UUID().uuidString.prefix(8))"
    }

    /// Removes `.NAME.tmp-PID-*` files beside `path` whose process no longer runs.
    static func removeStaleTemporaries(of path: String) {
        let folder = folder(of: path)
        let prefix = temporaryPrefix(for: path)
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        for name in names where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count).prefix { $0 != "-" }), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { unlink(folder + "/" + name) }
        }
    }

    private static func writeAndSync(_ bytes: UnsafeRawBufferPointer, to temporary: String, reporting path: String)
        throws
    {
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw error(errno, path: path, bytes: bytes.count) }
        var written = 0
        while written < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + written, bytes.count - written)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let code = n == 0 ? ENOSPC : errno
                close(fd)
                throw error(code, path: path, bytes: bytes.count)
            }
            written += n
        }
        // A full disk can surface only here (delayed allocation), so both results count.
        let synced = fsync(fd) == 0 ? 0 : errno
        let closed = close(fd) == 0 ? 0 : errno
        if synced != 0 || closed != 0 { throw error(synced != 0 ? synced : closed, path: path, bytes: bytes.count) }
    }

    private static func error(_ code: Int32, path: String, bytes: Int) -> FileWriteError {
        switch code {
        case ENOSPC, EDQUOT: return .diskFull(path: path, bytes: bytes)
        case ENOENT: return .noFolder(path: path, folder: folder(of: path))
        default: return .failed(path: path, reason: String(cString: strerror(code)))
        }
    }
}
