import Engine
import Foundation
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

/// Every entry of the repository's zoo/zoo.json: the file is there with the recorded size and
/// SHA-256, loads with the recorded classes and preprocessing, and still scores its recorded
/// accuracy on its stored test slice (within 0.5 points); the Fashion-MNIST entries meet the
/// accuracy they were made for.
final class ZooEntryTests: XCTestCase {
    static let zoo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("zoo").path

    func testEveryEntryMatchesItsFileAndItsRecordedAccuracy() throws {
        let manifest = try ZooManifest.read(Self.zoo)
        XCTAssertFalse(manifest.entries.isEmpty)
        let minimum = ["lenet5-fashion": 0.90, "vgg11-fashion": 0.93, "resnet20-fashion": 0.935]
        for entry in manifest.entries {
            let file = Self.zoo + "/" + entry.file
            XCTAssertEqual(try Pretraining.sha256(ofFile: file), entry.sha256, entry.name)
            XCTAssertEqual(
                (try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int), entry.bytes, entry.name)
            let model = try TrainedModel(contentsOf: file)
            XCTAssertEqual(model.classNames, entry.classes, entry.name)
            XCTAssertEqual(model.preprocessing.inputSize, entry.inputSize, entry.name)
            XCTAssertEqual(model.preprocessing.mean, entry.mean, entry.name)
            XCTAssertEqual(model.model.configuration, entry.configuration, entry.name)
            let accuracy = try TestSlice.accuracy(of: model, slice: Self.zoo + "/" + entry.slice.file)
            XCTAssertEqual(
                accuracy, entry.slice.accuracy, accuracy: 0.005,
                "\(entry.name) on its \(entry.slice.images)-image test slice")
            if let floor = minimum[entry.name] {
                XCTAssertGreaterThanOrEqual(entry.testAccuracy, floor, "\(entry.name) test accuracy")
                XCTAssertEqual(entry.testImages, 10_000, "\(entry.name): measured on all of the Fashion-MNIST test set")
            }
        }
    }
}

/// `--base resnet` picks the zoo entry for the data's channels: a colour folder whose first
/// image happens to be grey still gets the RGB entry (it once got the grey ResNet-20).
final class ZooFamilyTests: XCTestCase {
    func testAColourFolderWithAGreyFirstImageGetsTheRGBEntry() throws {
        let temporary = try TemporaryDirectory("family")
        defer { temporary.remove() }
        for (c, name) in ["a", "b"].enumerated() {
            let folder = temporary.path("data/\(name)")
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for i in 0..<4 {
                let grey = c == 0 && i == 0  // the folder's first image
                let image = Image.generate(width: 12, height: 12, channels: grey ? 1 : 3) { y, x, ch in
                    Float((x + y + ch * 3 + i) % 7) / 7
                }
                try image.writePNG(to: folder + "/\(i).png")
            }
        }
        var options = FineTuneOptions(base: "resnet", freeze: .stages(3))
        options.data = temporary.path("data")
        XCTAssertEqual(try FineTune.resolve(options).zooEntry?.name, "resnet18-clipart")
        for name in ["a", "b"] {
            for i in 0..<4 {
                let path = temporary.path("data/\(name)/\(i).png")
                try Image.generate(width: 12, height: 12, channels: 1) { y, x, _ in Float((x + y + i) % 5) / 5 }
                    .writePNG(to: path)
            }
        }
        XCTAssertEqual(try FineTune.resolve(options).zooEntry?.name, "resnet20-fashion", "an all-grey folder")
    }
}
