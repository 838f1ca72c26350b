import Foundation

/// An entry of a data folder that was not used, and why.
public struct SkippedEntry: Equatable, Sendable, CustomStringConvertible {
    public let path: String
    public let reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Lists a folder tree the way a user sees it: symbolic links to files and folders are
/// followed (a link that leads back into a folder already being walked is a cycle: reported,
/// not followed), hidden entries (names starting with ".") are left out, and everything else
/// that is not used (dangling links, unreadable folders, sockets, devices) is reported with
/// the reason. Results are sorted by path, so the order never depends on the file system.
struct FolderWalk {
    var files: [String] = []
    var folders: [String] = []
    var skipped: [SkippedEntry] = []

    /// The immediate children of `folder` that are folders (through links) and files.
    static func children(of folder: String) -> FolderWalk {
        var walk = FolderWalk()
        walk.visit(folder, recursive: false, ancestors: [])
        return walk
    }

    /// Every file below `folder`, through sub-folders and links; a link back to `folder` or
    /// to any of `above` (the dataset root) is a cycle.
    static func files(under folder: String, above: [String] = []) -> FolderWalk {
        var walk = FolderWalk()
        let ancestors = Set(
            above.compactMap { path -> Identity? in
                var info = stat()
                return stat(path, &info) == 0 ? identity(info) : nil
            })
        walk.visit(folder, recursive: true, ancestors: ancestors)
        walk.files.sort()
        return walk
    }

    private struct Identity: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    private static func identity(_ info: stat) -> Identity {
        Identity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    private mutating func visit(_ folder: String, recursive: Bool, ancestors: Set<Identity>) {
        var info = stat()
        guard stat(folder, &info) == 0 else { return }
        var ancestors = ancestors
        ancestors.insert(Self.identity(info))
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
        } catch {
            skipped.append(SkippedEntry(path: folder, reason: "the folder cannot be read (permission denied?)"))
            return
        }
        for name in names where !name.hasPrefix(".") {
            let path = folder + "/" + name
            var target = stat()
            guard stat(path, &target) == 0 else {
                let reason =
                    lstat(path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFLNK
                    ? "a symbolic link to nothing (\(linkDestination(path)))"
                    : "cannot be read (\(String(cString: strerror(errno))))"
                skipped.append(SkippedEntry(path: path, reason: reason))
                continue
            }
            switch target.st_mode & S_IFMT {
            case S_IFREG:
                files.append(path)
            case S_IFDIR:
                if ancestors.contains(Self.identity(target)) {
                    skipped.append(
                        SkippedEntry(
                            path: path,
                            reason:
                                "a symbolic link cycle (it leads back to a folder above it: \(linkDestination(path))); not followed"
                        ))
                } else if recursive {
                    visit(path, recursive: true, ancestors: ancestors)
                } else {
                    folders.append(path)
                }
            default:
                skipped.append(SkippedEntry(path: path, reason: "not a regular file or folder"))
            }
        }
    }

    private func linkDestination(_ path: String) -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
    }
}
