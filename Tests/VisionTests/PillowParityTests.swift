import Foundation
import TestSupport
import Vision
import XCTest

/// Decoded pixels against Pillow for every PNG colour type and bit depth and a few JPEGs
/// (scripts/fixtures/images.py): exact for 8-bit PNGs, within 1 level where a case says so
/// (16-bit reductions, alpha rounding, libjpeg-turbo versions).
final class PillowParityTests: XCTestCase {
    static let root = try! Fixtures.json("images.json")
    static let folder = Fixtures.directory(besides: #filePath).appendingPathComponent("images")

    func testEveryCaseDecodesLikePillow() throws {
        let cases = Self.root["cases"] as! [[String: Any]]
        XCTAssertGreaterThanOrEqual(cases.count, 20)
        for c in cases {
            let file = c["file"] as! String
            let image = try ImageDecoder().decode(contentsOf: Self.folder.appendingPathComponent(file).path)
            XCTAssertEqual([image.width, image.height, image.channels], [c["width"], c["height"], c["channels"]].map { ($0 as! NSNumber).intValue }, file)
            let expected = (c["pixels"] as! [NSNumber]).map(\.intValue)
            let tolerance = (c["tolerance"] as! NSNumber).intValue
            guard expected.count == image.bytes.count else { XCTFail("\(file): \(image.bytes.count) values, expected \(expected.count)"); continue }
            let worst = zip(image.bytes, expected).map { abs(Int($0) - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(worst, tolerance, "\(file): off by up to \(worst)")
        }
    }

    func testBadFilesAreRefusedWithTheirPath() throws {
        let folder = Self.folder
        func error(_ name: String) -> ImageError? {
            do { _ = try ImageDecoder().decode(contentsOf: folder.appendingPathComponent(name).path); return nil } catch { return error as? ImageError }
        }
        let truncated = error("bad_truncated.png")
        XCTAssertNotNil(truncated)
        XCTAssertTrue("\(truncated!)".contains("bad_truncated.png") && "\(truncated!)".contains("truncated or damaged"), "\(truncated!)")
        XCTAssertEqual(error("empty.png"), .empty(path: folder.appendingPathComponent("empty.png").path))
        XCTAssertEqual(error("notes.txt"), .unknownFormat(path: folder.appendingPathComponent("notes.txt").path))
        XCTAssertEqual(error("bad_huge_header.png"), .tooLarge(path: folder.appendingPathComponent("bad_huge_header.png").path,
                                                                width: 20000, height: 30000, limit: 50_000_000),
                       "refused from the header, before 600 megapixels are allocated")
        XCTAssertNotNil(try? ImageDecoder().decode(contentsOf: folder.appendingPathComponent("jpeg_named.png").path),
                        "a JPEG named .png decodes by its content")
    }
}

final class MalformedInputTests: XCTestCase {
    /// A JPEG with a too-short APP1 segment before its real data decodes like the original
    /// (the EXIF reader ignores it instead of crashing).
    func testShortAPP1SegmentIsIgnored() throws {
        let path = PillowParityTests.folder.appendingPathComponent("jpeg_rgb420.jpg").path
        let original = [UInt8](FileManager.default.contents(atPath: path)!)
        let damaged = Array(original[0..<2]) + [0xFF, 0xE1, 0x00, 0x04, 0x45, 0x78] + Array(original[2...])
        XCTAssertEqual(try ImageDecoder().decode(damaged), try ImageDecoder().decode(original))
        let lying = Array(original[0..<2]) + [0xFF, 0xE1, 0xFF, 0xF0, 0x45, 0x78, 0x69, 0x66, 0, 0] + Array(original[2...])
        XCTAssertThrowsError(try ImageDecoder().decode(lying), "a segment longer than the file is an error, not a crash")
    }

    func testPipelineValuesThatCannotWorkAreRefused() {
        for spec in ["crop=0", "resizedcrop=0", "crop=1e300", "rotate=inf", "crop=2.5"] {
            XCTAssertThrowsError(try Augmentation(spec: spec), spec)
        }
    }

    func testIteratingPastTheEndKeepsReturningNil() {
        let source = InMemoryImages(images: [Image(width: 2, height: 2, channels: 1), Image(width: 2, height: 2, channels: 1)],
                                    labels: [0, 1], classNames: ["a", "b"])
        let loader = BatchLoader(source: source, batchSize: 2, imageSize: (2, 2), mean: [0], std: [1])
        let iterator = loader.batches(epoch: 0).makeIterator()
        XCTAssertNotNil(iterator.next())
        XCTAssertNil(iterator.next())
        XCTAssertNil(iterator.next(), "no hang after the end")
    }
}
