import Foundation
import TestSupport
import Vision
import XCTest

final class IDXTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var directory: URL { temporary.url }

    override func setUpWithError() throws { temporary = try TemporaryDirectory("idx") }

    override func tearDownWithError() throws { temporary.remove() }

    private func write(_ bytes: [UInt8], _ name: String) -> String {
        let path = directory.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// An IDX header: magic (0, 0, type 0x08, rank) and big-endian extents.
    private func header(_ shape: [Int]) -> [UInt8] {
        [0, 0, 8, UInt8(shape.count)] + shape.flatMap { d in [24, 16, 8, 0].map { UInt8((d >> $0) & 0xFF) } }
    }

    func testReadsAnUncompressedIDXFile() throws {
        let path = write(header([2, 2, 3]) + Array(0..<12), "images-idx3-ubyte")
        let (shape, bytes) = try IDX.read(path)
        XCTAssertEqual(shape, [2, 2, 3])
        XCTAssertEqual(bytes, Array(0..<12))
    }

    func testFashionMNISTLoaderScalesAndPairsLabels() throws {
        _ = write(header([2, 28, 28]) + [UInt8](repeating: 255, count: 28 * 28) + [UInt8](repeating: 51, count: 28 * 28), "t10k-images-idx3-ubyte")
        _ = write(header([2]) + [3, 9], "t10k-labels-idx1-ubyte")
        let (images, labels) = try FashionMNIST.load(.test, directory: directory.path)
        XCTAssertEqual(images.shape, [2, 28, 28, 1])
        XCTAssertEqual(images[0, 5, 5, 0], 1)
        XCTAssertEqual(images[1, 0, 0, 0], 0.2, accuracy: 1e-6)
        XCTAssertEqual(labels, [3, 9])
    }

    func testTruncatedFileIsRefusedWithItsPath() {
        let path = write(header([2, 2, 3]) + Array(0..<7), "short-idx3-ubyte")
        XCTAssertThrowsError(try IDX.read(path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(path) && message.contains("12 values") && message.contains("truncated"), message)
        }
    }

    /// Found by `scripts/fuzz.sh idx`: a 34-byte file whose header claims 4.2 GB made the
    /// reader allocate all of it before reading (out of memory). Now it reads what is there.
    func testHeaderClaimingGigabytesIsRefusedWithoutAllocatingThem() throws {
        let found = Data(base64Encoded: "AAAIAf0AAAQAAQIBAAAICQsLCwsLCwsLCwsIAQAEAAkLCw==")!
        let path = write([UInt8](found), "fuzz-oom-idx1-ubyte")
        XCTAssertThrowsError(try IDX.read(path)) { error in
            XCTAssertTrue("\(error)".contains("4244635652 values") && "\(error)".contains("truncated"), "\(error)")
        }
        let more = write(header([3]) + [1, 2, 3, 4], "long-idx1-ubyte")
        XCTAssertThrowsError(try IDX.read(more)) { error in XCTAssertTrue("\(error)".contains("more follow"), "\(error)") }
    }

    func testMissingDatasetSaysHowToInstallIt() {
        XCTAssertThrowsError(try FashionMNIST.load(.train, directory: directory.path)) { error in
            XCTAssertTrue("\(error)".contains("apt-get install dataset-fashion-mnist"), "\(error)")
        }
    }

    func testNonIDXFileIsRefused() {
        let path = write(Array("hello, world".utf8), "not-idx")
        XCTAssertThrowsError(try IDX.read(path)) { error in
            XCTAssertTrue("\(error)".contains("IDX magic"), "\(error)")
        }
    }
}
