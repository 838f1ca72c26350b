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
            XCTAssertEqual((try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int), entry.bytes, entry.name)
            let model = try TrainedModel(contentsOf: file)
            XCTAssertEqual(model.classNames, entry.classes, entry.name)
            XCTAssertEqual(model.preprocessing.inputSize, entry.inputSize, entry.name)
            XCTAssertEqual(model.preprocessing.mean, entry.mean, entry.name)
            XCTAssertEqual(model.model.configuration, entry.configuration, entry.name)
            let accuracy = try TestSlice.accuracy(of: model, slice: Self.zoo + "/" + entry.slice.file)
            XCTAssertEqual(accuracy, entry.slice.accuracy, accuracy: 0.005, "\(entry.name) on its \(entry.slice.images)-image test slice")
            if let floor = minimum[entry.name] {
                XCTAssertGreaterThanOrEqual(entry.testAccuracy, floor, "\(entry.name) test accuracy")
                XCTAssertEqual(entry.testImages, 10_000, "\(entry.name): measured on all of the Fashion-MNIST test set")
            }
        }
    }
}
