import Foundation
import Zoo

/// Where the pretrained zoo lives and which entry a `--base` means.
public enum ZooDirectory {
    /// `GRAFT_ZOO` when set; else `./zoo` when it holds a zoo.json; else the zoo/ folder of
    /// the Graft checkout these sources were built from (so a package depending on Graft
    /// finds it too).
    public static var path: String {
        if let set = ProcessInfo.processInfo.environment["GRAFT_ZOO"], !set.isEmpty { return set }
        if FileManager.default.fileExists(atPath: "zoo/zoo.json") { return "zoo" }
        let checkout = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("zoo").path
        return checkout
    }

    /// The zoo's `zoo.json` at `path`; nil when there is none or it cannot be read.
    public static var manifest: ZooManifest? { try? ZooManifest.read(path) }

    /// Family aliases: `--base resnet` means the zoo's ResNet for the data's channels.
    public static let families: [String: (rgb: String, grey: String)] = [
        "resnet": ("resnet18-clipart", "resnet20-fashion"),
        "vgg": ("vgg11-clipart", "vgg11-fashion"),
        "lenet": ("lenet5-fashion", "lenet5-fashion"),
    ]

    /// The zoo entry `base` names for `channels`-channel data (an entry's own name, or a
    /// family alias), when the zoo has it.
    public static func entry(for base: String, channels: Int) -> ZooManifest.Entry? {
        guard let manifest else { return nil }
        if let entry = manifest.entry(base) { return entry }
        guard let family = families[base.lowercased()] else { return nil }
        return manifest.entry(channels == 1 ? family.grey : family.rgb)
    }

    /// The path of an entry's weight file.
    public static func file(of entry: ZooManifest.Entry) -> String { path + "/" + entry.file }
}

extension TrainedModel {
    /// A pretrained zoo entry by name (`finetune zoo list`), e.g. "resnet18-clipart".
    public init(zooEntry name: String) throws {
        guard let entry = ZooDirectory.manifest?.entry(name) else {
            throw ZooError.unknownArchitecture(name, known: ZooDirectory.manifest?.entries.map(\.name) ?? [])
        }
        try self.init(contentsOf: ZooDirectory.file(of: entry))
    }
}
