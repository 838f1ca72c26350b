import Crypto
import Engine
import Foundation
import TestSupport
import XCTest
import Zoo

@testable import Transfer

/// `finetune zoo get` end to end against a server on 127.0.0.1: files in the formats of
/// torchvision (.pth, a committed fixture of scripts/fixtures/torch_checkpoints.py) and of
/// Keras (a Keras 2 layout HDF5 written here), a wrong digest, a download cut off midway,
/// a missing file; a failure never leaves anything behind nor replaces an older file.
final class ZooGetTests: XCTestCase {
    private var home = ""
    private var server: LoopbackServer!
    private var torchBytes = Data()
    private var kerasBytes = Data()

    override func setUpWithError() throws {
        home =
            FileManager.default.temporaryDirectory.appendingPathComponent("graft-zoo-get-\(getpid())-\(name.hashValue)")
            .path
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ZooTests/Fixtures/torch/lenet5.pth")
        torchBytes = try Data(contentsOf: fixture)
        Random.seed(3)
        let lenet = try Architectures.entry("lenet5").configuration(10).build()
        let keras = home + "/lenet-keras.h5"
        try WeightFile.save(
            lenet, to: keras, metadata: WeightMetadata(architecture: "lenet5", configuration: nil, preprocessing: nil))
        kerasBytes = try Data(contentsOf: URL(fileURLWithPath: keras))
        try FileManager.default.removeItem(atPath: keras)
        server = try LoopbackServer(routes: [
            "/models/lenet5-abc.pth": .init(body: torchBytes),
            "/keras/lenet5.h5": .init(body: kerasBytes),
            "/models/cut.pth": .init(body: torchBytes, cutAfter: torchBytes.count / 2),
        ])
    }

    override func tearDownWithError() throws {
        server.stop()
        try? FileManager.default.removeItem(atPath: home)
    }

    private func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
    private func md5(_ data: Data) -> String {
        Insecure.MD5.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    private func entry(_ name: String, path: String, digest: ImageNetWeights.Digest, format: ImageNetWeights.Format)
        -> ImageNetWeights
    {
        ImageNetWeights(
            name: name, url: server.url(path), digest: digest, format: format, architecture: "lenet5", summary: "test")
    }

    /// What is in the cache folder besides converted files: must stay empty.
    private func leftovers() -> [String] {
        let folder = home + "/imagenet"
        return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
            !$0.hasSuffix(".h5") || $0.hasPrefix(".")
        }
    }

    func testTorchAndKerasFilesAreDownloadedVerifiedAndConverted() throws {
        let prefix = String(sha256(torchBytes).prefix(8))
        let torch = entry("lenet-torch", path: "/models/lenet5-abc.pth", digest: .sha256Prefix(prefix), format: .torch)
        let result = try ZooDownload.get(torch, home: home)
        XCTAssertEqual(result.bytes, torchBytes.count)
        XCTAssertEqual(result.sha256, sha256(torchBytes))
        let converted = try TrainedModel(contentsOf: ImageNetWeights.file("lenet-torch", home: home))
        let direct = try TorchConversion.archive(
            TorchCheckpoint(
                reading: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                    .deletingLastPathComponent().appendingPathComponent("ZooTests/Fixtures/torch/lenet5.pth").path),
            architecture: "lenet5")
        let model = try XCTUnwrap(direct.metadata?.configuration).build()
        try WeightFile.load(direct, into: model)
        XCTAssertEqual(WeightFile.contentHash(of: converted.model), WeightFile.contentHash(of: model))

        let keras = entry("lenet-keras", path: "/keras/lenet5.h5", digest: .md5(md5(kerasBytes)), format: .keras)
        try ZooDownload.get(keras, home: home)
        XCTAssertNoThrow(try TrainedModel(contentsOf: ImageNetWeights.file("lenet-keras", home: home)))
        XCTAssertEqual(leftovers(), [])
    }

    func testAWrongDigestKeepsNothingAndLeavesTheOlderFile() throws {
        let good = entry("lenet", path: "/models/lenet5-abc.pth", digest: .sha256(sha256(torchBytes)), format: .torch)
        try ZooDownload.get(good, home: home)
        let before = try Data(contentsOf: URL(fileURLWithPath: ImageNetWeights.file("lenet", home: home)))
        let bad = entry(
            "lenet", path: "/models/lenet5-abc.pth", digest: .sha256(String(repeating: "0", count: 64)), format: .torch)
        XCTAssertThrowsError(try ZooDownload.get(bad, home: home, force: true)) { error in
            XCTAssertTrue("\(error)".contains("is not the published file"), "\(error)")
            XCTAssertTrue("\(error)".contains(self.sha256(self.torchBytes)), "\(error)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: ImageNetWeights.file("lenet", home: home))), before)
        XCTAssertEqual(leftovers(), [])
    }

    func testADownloadCutOffMidwayKeepsNothing() throws {
        let cut = entry("cut", path: "/models/cut.pth", digest: .sha256(sha256(torchBytes)), format: .torch)
        XCTAssertThrowsError(try ZooDownload.get(cut, home: home)) { error in
            XCTAssertTrue("\(error)".contains("Nothing was kept"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: ImageNetWeights.file("cut", home: home)))
        XCTAssertEqual(leftovers(), [])
    }

    func testAMissingFileIsAnHTTPError() throws {
        let missing = entry("missing", path: "/models/nothing.pth", digest: .sha256Prefix("00"), format: .torch)
        XCTAssertThrowsError(try ZooDownload.get(missing, home: home)) { error in
            XCTAssertTrue("\(error)".contains("HTTP 404"), "\(error)")
        }
        XCTAssertEqual(leftovers(), [])
    }

    func testTheCatalogueNamesTheLibrariesOwnURLsAndDigests() {
        XCTAssertEqual(
            Set(ImageNetWeights.catalogue.map(\.name)),
            ["vgg16-keras", "resnet50-keras", "resnet18-torchvision", "resnet50-torchvision", "vgg16-torchvision"])
        for entry in ImageNetWeights.catalogue {
            XCTAssertNoThrow(try Architectures.entry(entry.architecture), entry.name)
            if case .sha256Prefix(let prefix) = entry.digest {  // torch.hub: the name carries the prefix
                XCTAssertTrue(entry.url.hasSuffix("-\(prefix).pth"), entry.url)
            }
        }
    }
}
