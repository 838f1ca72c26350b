import Engine
import Foundation
import Layers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

/// Bad input on the command line: errors on standard error that name the file and the fix,
/// non-zero exits, results for the inputs that worked.
final class MessageTests: XCTestCase {
    private var temporary: TemporaryDirectory!

    override func setUpWithError() throws { temporary = try TemporaryDirectory("cli") }
    override func tearDownWithError() throws { temporary.remove() }

    /// A two-class folder of small PNGs.
    private func makeFolder() throws -> String {
        for (c, name) in ["a", "b"].enumerated() {
            let dir = temporary.path("data/\(name)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for i in 0..<3 {
                let image = Image.generate(width: 12, height: 10, channels: 3) { y, x, ch in
                    Float((x + y * c + ch + i) % 5) / 5
                }
                try image.writePNG(to: dir + "/\(i).png")
            }
        }
        return temporary.path("data")
    }

    private func makeModel() throws -> String {
        let path = temporary.path("model.h5")
        let made = try FinetuneBinary.run(["zoo", "init", "lenet5", "--classes", "2", "--out", path])
        XCTAssertEqual(made.status, 0, made.stderr)
        return path
    }

    func testPredictReportsEachFailureOnceOnStandardErrorAndExitsOne() throws {
        let model = try makeModel()
        let data = try makeFolder()
        let good = data + "/a/0.png"
        try "not an image".write(toFile: temporary.path("notes.png"), atomically: true, encoding: .utf8)
        let result = try FinetuneBinary.run([
            "predict", "--model", model, good, temporary.path("missing.png"),
            temporary.path("notes.png"), data,
        ])
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertEqual(result.stdout.split(separator: "\n").count, 1, result.stdout)
        XCTAssertTrue(result.stdout.hasPrefix(good + ": class "), result.stdout)
        for failed in [temporary.path("missing.png"), temporary.path("notes.png"), data] {
            XCTAssertEqual(
                result.stderr.components(separatedBy: failed).count - 1, 1, "\(failed) once: \(result.stderr)")
        }
        XCTAssertTrue(result.stderr.contains("is a folder"), result.stderr)
        XCTAssertTrue(result.stderr.contains("3 of 4 images could not be classified"), result.stderr)
        let ok = try FinetuneBinary.run(["predict", "--model", model, good])
        XCTAssertEqual(ok.status, 0, ok.stderr)
    }

    func testMaxPixelsIsAnOptionAndTheMessageNamesIt() throws {
        let model = try makeModel()
        let jpeg = PillowJPEG.path
        let result = try FinetuneBinary.run(["predict", "--model", model, "--max-pixels", "10", jpeg])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains(jpeg) && result.stderr.contains("--max-pixels"), result.stderr)
    }

    /// `crop=999` on the 32-px demo padded every image with black; the README's `crop=56`
    /// shrank them into a corner. Both are refused before any image is decoded.
    func testCropLargerThanTheTrainingSizeIsRefused() throws {
        for pipeline in ["hflip,crop=999", "crop=56", "resizedcrop=64"] {
            let result = try FinetuneBinary.run([
                "--base", "lenet5", "--pipeline", pipeline, "--runs", temporary.path("runs"),
            ])
            XCTAssertEqual(result.status, 1, pipeline)
            XCTAssertTrue(result.stderr.contains("32x32"), "\(pipeline): \(result.stderr)")
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: temporary.path("runs")), "no run folder for \(pipeline)")
        }
        let fits = try FinetuneBinary.run([
            "augment", "--data", try makeFolder(), "--pipeline", "crop=56", "--size", "96",
            "--out", temporary.path("preview.png"),
        ])
        XCTAssertEqual(fits.status, 0, fits.stderr)
    }

    /// Found by `scripts/fuzz.sh hdf5`: a damaged weight file on which libhdf5 1.10 loops
    /// forever (global heap, variable-length strings). The read ends with an error naming it.
    func testAWeightFileThatHangsLibhdf5EndsWithAClearError() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/fuzz-hdf5-heap-loop.h5").path
        let process = Process()
        process.executableURL = FinetuneBinary.url
        process.arguments = ["zoo", "show", file]
        process.environment = ["GRAFT_READ_TIMEOUT": "2"]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        let started = Date()
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1)
        XCTAssertTrue(stderr.contains(file) && stderr.contains("damaged"), stderr)
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
    }

    func testRunsFolderThatIsAFileAndOutputIntoAMissingFolderAreNamed() throws {
        let data = try makeFolder()
        try "x".write(toFile: temporary.path("runs"), atomically: true, encoding: .utf8)
        let train = try FinetuneBinary.run([
            "--base", "lenet5", "--data", data, "--epochs", "1", "--runs", temporary.path("runs"),
        ])
        XCTAssertEqual(train.status, 1)
        XCTAssertTrue(
            train.stderr.contains(temporary.path("runs")) && train.stderr.contains("it is a file"), train.stderr)
        XCTAssertFalse(train.stderr.contains("NSCocoaErrorDomain"), train.stderr)

        let out = temporary.path("missing/features.h5")
        let extract = try FinetuneBinary.run([
            "extract", "--base", "lenet5", "--layer", "conv1", "--data", data, "--out", out,
        ])
        XCTAssertEqual(extract.status, 1)
        XCTAssertTrue(extract.stderr.contains("the folder \(temporary.path("missing")) does not exist"), extract.stderr)
        XCTAssertFalse(extract.stderr.contains("disk"), extract.stderr)
    }
}

/// A JPEG fixture of the Vision tests (19x13).
enum PillowJPEG {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("VisionTests/Fixtures/images/jpeg_rgb420.jpg").path
}
