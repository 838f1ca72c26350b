import Engine
import Foundation
import TestSupport
import XCTest

@testable import Zoo

/// The native PyTorch reader against scripts/convert_torch.py on committed checkpoints
/// (scripts/fixtures/torch_checkpoints.py): the same layers, the same tensors bit for bit,
/// the same Graft file; and the restricted unpickler refuses what a state_dict never holds.
final class TorchImportTests: XCTestCase {
    private func fixture(_ name: String) -> String {
        Fixtures.directory(besides: #filePath).appendingPathComponent("torch/\(name)").path
    }

    private func assertMatchesReference(_ arch: String, checkpoint: String, inputSize: Int? = nil) throws {
        let native = try TorchConversion.archive(
            TorchCheckpoint(reading: fixture(checkpoint)), architecture: arch, inputSize: inputSize)
        let reference = try WeightArchive.read(fixture("\(arch)-reference.h5"))
        XCTAssertEqual(native.layerNames, reference.layerNames, checkpoint)
        for layer in reference.layerNames {
            let a = native.layers[layer] ?? []
            let b = reference.layers[layer] ?? []
            XCTAssertEqual(a.map(\.name), b.map(\.name), "\(checkpoint) \(layer)")
            for (x, y) in zip(a, b) {
                XCTAssertEqual(x.tensor.shape, y.tensor.shape, "\(checkpoint) \(layer)/\(x.name)")
                // Bit for bit: compare the float32 bit patterns, not values within a tolerance.
                XCTAssertEqual(
                    x.tensor.scalars.map(\.bitPattern), y.tensor.scalars.map(\.bitPattern),
                    "\(checkpoint) \(layer)/\(x.name)")
            }
        }
        XCTAssertEqual(native.metadata?.configuration, reference.metadata?.configuration, checkpoint)
        XCTAssertEqual(native.metadata?.preprocessing, reference.metadata?.preprocessing, checkpoint)
        XCTAssertEqual(native.metadata?.architecture, reference.metadata?.architecture, checkpoint)
    }

    func testZipCheckpointsMatchTheReferenceConverter() throws {
        try assertMatchesReference("resnet18", checkpoint: "resnet18.pth")
        try assertMatchesReference("vgg11_bn", checkpoint: "vgg11_bn.pth", inputSize: 64)
        try assertMatchesReference("lenet5", checkpoint: "lenet5.pth")
    }

    func testLegacyCheckpointsMatchTheReferenceConverter() throws {
        try assertMatchesReference("resnet18", checkpoint: "resnet18-legacy.pth")
        try assertMatchesReference("vgg11_bn", checkpoint: "vgg11_bn-legacy.pth", inputSize: 64)
        try assertMatchesReference("lenet5", checkpoint: "lenet5-legacy.pth")
    }

    /// Both paths through `import` write byte-identical Graft files (given the same provenance).
    func testImportWritesTheSameFileAsTheConvertedReference() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("graft-torch-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // The narrow fixture is not torchvision's resnet18, so build what the file describes.
        let nativeArchive = try TorchConversion.archive(
            TorchCheckpoint(reading: fixture("resnet18.pth")), architecture: "resnet18")
        let referenceArchive = try WeightArchive.read(fixture("resnet18-reference.h5"))
        var metadata = try XCTUnwrap(nativeArchive.metadata)
        metadata.provenance = "{}"
        let native = (model: try XCTUnwrap(metadata.configuration).build(), ())
        let reference = (model: try XCTUnwrap(metadata.configuration).build(), ())
        let report = try WeightFile.load(nativeArchive, into: native.model, options: LoadOptions())
        XCTAssertTrue(report.problems.isEmpty, report.description)
        _ = try WeightFile.load(referenceArchive, into: reference.model, options: LoadOptions())
        try WeightFile.save(native.model, to: folder.appendingPathComponent("native.h5").path, metadata: metadata)
        try WeightFile.save(reference.model, to: folder.appendingPathComponent("reference.h5").path, metadata: metadata)
        let a = try Data(contentsOf: folder.appendingPathComponent("native.h5"))
        let b = try Data(contentsOf: folder.appendingPathComponent("reference.h5"))
        XCTAssertEqual(a.count, b.count)
        XCTAssertTrue(a == b, "the two Graft files differ")
        XCTAssertEqual(WeightFile.contentHash(of: native.model), WeightFile.contentHash(of: reference.model))
    }

    func testStridedViewsAreGatheredAndWrappedStateDictsFound() throws {
        let strided = try TorchCheckpoint(reading: fixture("strided.pth"))
        XCTAssertEqual(strided["t"]?.shape, [4, 3])
        XCTAssertEqual(strided["t"]?.values, [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])  // arange(12).reshape(3, 4).t()
        let wrapped = try TorchCheckpoint(reading: fixture("lenet5-wrapped.pth"))
        let plain = try TorchCheckpoint(reading: fixture("lenet5.pth"))
        XCTAssertEqual(wrapped.entries.map(\.key), plain.entries.map(\.key))
        XCTAssertEqual(wrapped.entries.map(\.values), plain.entries.map(\.values))
    }

    private func assertRefused(
        _ name: String, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertThrowsError(try TorchCheckpoint(reading: fixture(name)), name, file: file, line: line) { error in
            let message = "\(error)"
            for word in words + [name] {
                XCTAssertTrue(
                    message.contains(word), "\(name): \(message) should mention \(word)", file: file, line: line)
            }
        }
    }

    /// A pickle is a program: a whole module or a call to os.system is refused by name before
    /// anything is built.
    func testPicklesNamingOtherClassesAreRefused() {
        assertRefused("refused-module.pth", mentioning: ["torch.nn.modules.linear.Linear", "state_dict"])
        assertRefused("refused-system.pth", mentioning: ["system", "refuses"])
    }

    func testDamagedAndMismatchedCheckpointsGiveClearErrors() throws {
        assertRefused("truncated.pth", mentioning: ["re-download"])
        XCTAssertThrowsError(
            try TorchConversion.archive(TorchCheckpoint(reading: fixture("resnet18.pth")), architecture: "resnet34")
        ) {
            XCTAssertTrue("\($0)".contains("does not match --arch resnet34"), "\($0)")
        }
        XCTAssertThrowsError(try TorchCheckpoint(reading: fixture("resnet18-reference.h5"))) {
            XCTAssertTrue("\($0)".contains("not a PyTorch checkpoint"), "\($0)")
        }
    }
}
