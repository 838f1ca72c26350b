import Foundation
import TestSupport
import XCTest

/// `finetune zoo get` as a user runs it, against a mirror on 127.0.0.1 (`GRAFT_ZOO_MIRROR`)
/// that serves the catalogue's paths with files that are not the published ones (the real
/// files are not on this machine): the digest check refuses them, exit 1, nothing kept.
/// The successful path is `ZooGetTests` (TransferTests), with digests of the served files.
final class ZooGetCommandTests: XCTestCase {
    func testAMirrorServingOtherBytesIsRefusedAndNothingKept() throws {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("ZooTests/Fixtures/torch/resnet18.pth")
        let bytes = try Data(contentsOf: fixture)
        let server = try LoopbackServer(routes: ["/models/resnet18-f37072fd.pth": .init(body: bytes)])
        defer { server.stop() }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("graft-zoo-get-cli-\(getpid())")
        defer { try? FileManager.default.removeItem(at: home) }
        let environment = ["GRAFT_HOME": home.path, "GRAFT_ZOO_MIRROR": server.url("/")]

        let refused = try FinetuneBinary.run(["zoo", "get", "resnet18-torchvision"], environment: environment)
        XCTAssertEqual(refused.status, 1, refused.stdout + refused.stderr)
        XCTAssertTrue(
            refused.stderr.contains("is not the published file: expected SHA-256 starting f37072fd"), refused.stderr)
        let missing = try FinetuneBinary.run(["zoo", "get", "vgg16-keras"], environment: environment)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("HTTP 404"), missing.stderr)
        let kept =
            (try? FileManager.default.contentsOfDirectory(atPath: home.appendingPathComponent("imagenet").path)) ?? []
        XCTAssertEqual(kept, [])

        let notFetched = try FinetuneBinary.run(
            ["train", "--weights", "resnet18-torchvision", "--epochs", "1"],
            environment: environment)
        XCTAssertNotEqual(notFetched.status, 0)
        XCTAssertTrue(
            notFetched.stderr.contains("run `finetune zoo get resnet18-torchvision` first"), notFetched.stderr)
        let unknown = try FinetuneBinary.run(["zoo", "get", "alexnet-imagenet"], environment: environment)
        XCTAssertEqual(unknown.status, 64, unknown.stderr)
    }
}
