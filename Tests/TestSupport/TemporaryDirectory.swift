import Foundation

/// A fresh folder under the system's temporary directory, removed with `remove()`; the name
/// has spaces and a non-ASCII character on purpose, so every file test also covers such paths.
public struct TemporaryDirectory {
    public let url: URL

    public init(_ label: String) throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("graft \(label) ü \(UUID().uuidString.prefix(6))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func remove() { try? FileManager.default.removeItem(at: url) }
}
