import CHDF5
import CPNG
import CTurboJPEG
import Foundation
import XCTest

/// The C libraries link and do one real round trip each; the Vision and Zoo issues build on them.
final class SystemLibrarySmokeTests: XCTestCase {
    private func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("graft-smoke-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir.appendingPathComponent(name).path
    }

    func testHDF5WritesAndReadsAFloatDataset() throws {
        var major: UInt32 = 0, minor: UInt32 = 0, release: UInt32 = 0
        XCTAssertGreaterThanOrEqual(H5get_libversion(&major, &minor, &release), 0)
        XCTAssertEqual(major, 1)
        let path = temporaryPath("smoke.h5")
        let file = H5Fcreate(path, graft_H5F_ACC_TRUNC(), graft_H5P_DEFAULT(), graft_H5P_DEFAULT())
        XCTAssertGreaterThanOrEqual(file, 0)
        var dims: [hsize_t] = [2, 3]
        let space = H5Screate_simple(2, &dims, nil)
        let dataset = H5Dcreate2(file, "kernel", graft_H5T_NATIVE_FLOAT(), space, graft_H5P_DEFAULT(), graft_H5P_DEFAULT(), graft_H5P_DEFAULT())
        let written: [Float] = [1, 2, 3, 4, 5, 6.5]
        XCTAssertGreaterThanOrEqual(H5Dwrite(dataset, graft_H5T_NATIVE_FLOAT(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), written), 0)
        H5Dclose(dataset); H5Sclose(space); H5Fclose(file)

        let reopened = H5Fopen(path, graft_H5F_ACC_RDONLY(), graft_H5P_DEFAULT())
        let ds = H5Dopen2(reopened, "kernel", graft_H5P_DEFAULT())
        var read = [Float](repeating: 0, count: 6)
        XCTAssertGreaterThanOrEqual(H5Dread(ds, graft_H5T_NATIVE_FLOAT(), graft_H5S_ALL(), graft_H5S_ALL(), graft_H5P_DEFAULT(), &read), 0)
        H5Dclose(ds); H5Fclose(reopened)
        XCTAssertEqual(read, written)
    }

    func testLibPNGSimplifiedAPIRoundTrip() throws {
        XCTAssertGreaterThanOrEqual(png_access_version_number(), 10600)
        let (w, h) = (5, 3)
        let pixels: [UInt8] = (0..<(w * h * 3)).map { UInt8(($0 * 17) % 256) }
        var image = png_image()
        image.version = UInt32(PNG_IMAGE_VERSION)
        image.width = UInt32(w); image.height = UInt32(h)
        image.format = UInt32(PNG_FORMAT_RGB)
        let path = temporaryPath("smoke.png")
        XCTAssertNotEqual(png_image_write_to_file(&image, path, 0, pixels, Int32(w * 3), nil), 0)

        var back = png_image()
        back.version = UInt32(PNG_IMAGE_VERSION)
        XCTAssertNotEqual(png_image_begin_read_from_file(&back, path), 0)
        back.format = UInt32(PNG_FORMAT_RGB)
        var decoded = [UInt8](repeating: 0, count: w * h * 3)
        XCTAssertNotEqual(png_image_finish_read(&back, nil, &decoded, Int32(w * 3), nil), 0)
        XCTAssertEqual(decoded, pixels)
        XCTAssertEqual(Int(back.width), w)
    }

    func testTurboJPEGRoundTripOfAFlatImage() throws {
        let (w, h) = (16, 8)
        let grey = [UInt8](repeating: 128, count: w * h)
        guard let compressor = tjInitCompress() else { return XCTFail("tjInitCompress failed") }
        defer { tjDestroy(compressor) }
        var jpeg: UnsafeMutablePointer<UInt8>? = nil
        var size: UInt = 0
        XCTAssertEqual(tjCompress2(compressor, grey, Int32(w), 0, Int32(h), Int32(TJPF_GRAY.rawValue), &jpeg, &size,
                                   Int32(TJSAMP_GRAY.rawValue), 95, 0), 0)
        defer { tjFree(jpeg) }
        XCTAssertGreaterThan(size, 0)
        guard let decompressor = tjInitDecompress() else { return XCTFail("tjInitDecompress failed") }
        defer { tjDestroy(decompressor) }
        var decoded = [UInt8](repeating: 0, count: w * h)
        XCTAssertEqual(tjDecompress2(decompressor, jpeg, size, &decoded, Int32(w), 0, Int32(h), Int32(TJPF_GRAY.rawValue), 0), 0)
        XCTAssertTrue(decoded.allSatisfy { abs(Int($0) - 128) <= 1 }, "a flat grey image survives JPEG within 1 level")
    }
}
