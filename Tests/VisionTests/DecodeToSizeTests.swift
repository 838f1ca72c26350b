import Engine
import Foundation
import TestSupport
import Vision
import XCTest

/// Decoding straight to a size (PNG rows streamed into the resampler, JPEG through
/// TurboJPEG's scaled decoding) against decoding the whole image and then resizing it.
final class DecodeToSizeTests: XCTestCase {
    private let folder = PillowParityTests.folder
    private let targets = [(8, 6), (5, 9), (32, 24), (3, 3)]

    /// PNG: bit-identical, for every fixture PNG (all colour types, interlaced ones through the
    /// whole-image path) and a larger noisy RGBA image, shrinking and enlarging.
    func testPNGToSizeEqualsDecodeThenResize() throws {
        let cases = (PillowParityTests.root["cases"] as! [[String: Any]]).filter { $0["kind"] as! String == "png" }
        var rng = RandomGenerator(seed: 3)
        let noisy = Image(
            width: 301, height: 203, channels: 3, bytes: (0..<(301 * 203 * 3)).map { _ in UInt8(rng.next() % 256) })
        let temporary = try TemporaryDirectory("decode-size")
        defer { temporary.remove() }
        try noisy.writePNG(to: temporary.path("noisy.png"))
        let paths =
            cases.map { folder.appendingPathComponent($0["file"] as! String).path } + [temporary.path("noisy.png")]
        for path in paths {
            let whole = try ImageDecoder().decode(contentsOf: path)
            for (w, h) in targets {
                let direct = try ImageDecoder().decode(contentsOf: path, fitting: (w, h))
                XCTAssertEqual(direct, whole.resized(width: w, height: h), "\(path) at \(w)x\(h)")
            }
        }
    }

    /// JPEG: within 6 levels (mean under 1): TurboJPEG's DCT-domain downscaling averages
    /// 8x8 blocks slightly differently from decoding every pixel and averaging areas.
    func testJPEGToSizeIsCloseToDecodeThenResize() throws {
        let sources = PillowParityTests.root["resize_sources"] as! [String]
        for name in sources {
            let path = folder.appendingPathComponent(name).path
            let whole = try ImageDecoder().decode(contentsOf: path)
            for (w, h) in [(24, 16), (60, 40), (100, 75)] {
                let direct = try ImageDecoder().decode(contentsOf: path, fitting: (w, h))
                let expected = whole.resized(width: w, height: h).bytes
                let differences = zip(direct.bytes, expected).map { abs(Int($0) - Int($1)) }
                XCTAssertLessThanOrEqual(differences.max()!, 6, "\(name) at \(w)x\(h)")
                XCTAssertLessThan(
                    Double(differences.reduce(0, +)) / Double(differences.count), 1, "\(name) at \(w)x\(h)")
            }
        }
    }

    /// A header claiming 60,000 x 60,000 pixels with no data is refused at once, also when
    /// decoding to a small size (the hard bound, 2^31 pixels, holds whatever the settings).
    func testHugeHeaderWithoutDataIsRefusedAtOnce() throws {
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func chunk(_ type: String, _ data: [UInt8]) {
            let body = Array(type.utf8) + data
            png += withUnsafeBytes(of: UInt32(data.count).bigEndian, Array.init) + body
            png += withUnsafeBytes(of: crc32(body).bigEndian, Array.init)
        }
        let side = withUnsafeBytes(of: UInt32(60_000).bigEndian, Array.init)
        chunk("IHDR", side + side + [8, 2, 0, 0, 0])
        chunk("IEND", [])
        let started = Date()
        for size in [nil, (32, 32)] as [(width: Int, height: Int)?] {
            XCTAssertThrowsError(
                try ImageDecoder(maxPixels: ImageDecoder.hardPixelLimit).decode(png, path: "bomb.png", fitting: size)
            ) { error in
                XCTAssertEqual(
                    error as? ImageError,
                    .tooLarge(
                        path: "bomb.png", width: 60_000, height: 60_000,
                        limit: ImageDecoder.hardPixelLimit), "\(error)")
            }
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 1, "refused from the header")
    }

    private func crc32(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }
}
