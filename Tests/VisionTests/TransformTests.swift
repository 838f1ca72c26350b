import Engine
import Vision
import XCTest

final class TransformTests: XCTestCase {
    func testShrinkingAveragesAreas() {
        let image = Image(width: 4, height: 4, channels: 1, data: (0..<16).map(Float.init))
        let half = image.resized(width: 2, height: 2)
        XCTAssertEqual(half.data, [2.5, 4.5, 10.5, 12.5], "each output pixel is the mean of its 2x2 block")
        let third = Image(width: 3, height: 1, channels: 1, data: [0, 3, 6]).resized(width: 1, height: 1)
        XCTAssertEqual(third.data[0], 3, accuracy: 1e-6)
    }

    func testEnlargingIsBilinearWithAlignedPixelCentres() {
        let image = Image(width: 2, height: 1, channels: 1, data: [0, 1])
        let wide = image.resized(width: 4, height: 1)
        // Output centres map to input x = -0.25, 0.25, 0.75, 1.25 (clamped at the edges).
        XCTAssertEqual(wide.data, [0, 0.25, 0.75, 1])
        let flat = Image(width: 3, height: 3, channels: 3, fill: 0.4).resized(width: 7, height: 5)
        XCTAssertTrue(flat.data.allSatisfy { abs($0 - 0.4) < 1e-6 })
    }

    func testCentreCropPadAndChannelConversion() {
        let image = Image.generate(width: 5, height: 4, channels: 1) { y, x, _ in Float(y * 5 + x) }
        let centre = image.centreCropped(width: 3, height: 2)
        XCTAssertEqual(centre.data, [6, 7, 8, 11, 12, 13])
        let padded = image.padded(top: 1, bottom: 0, left: 2, right: 1, fill: -1)
        XCTAssertEqual([padded.width, padded.height], [8, 5])
        XCTAssertEqual(padded[0, 0, 0], -1)
        XCTAssertEqual(padded[1, 2, 0], 0)
        let rgb = image.rgb()
        XCTAssertEqual(rgb.channels, 3)
        XCTAssertEqual(rgb[2, 3, 2], image[2, 3, 0])
        XCTAssertEqual(rgb.greyscale()[2, 3, 0], image[2, 3, 0], accuracy: 1e-4, "grey -> RGB -> grey is the identity")
    }

    func testBatchNormalisesWithMeanStdAndChannelOrder() {
        var image = Image(width: 1, height: 1, channels: 3)
        image.data = [0.9, 0.5, 0.1]
        let rgb = Tensor.batch([image], mean: [0.5, 0.5, 0.5], std: [0.2, 0.5, 0.1])
        XCTAssertEqual(rgb.scalars[0], 2, accuracy: 1e-5)
        XCTAssertEqual(rgb.scalars[2], -4, accuracy: 1e-5)
        let bgr = Tensor.batch([image], mean: [0, 0, 0], std: [1, 1, 1], channelOrder: "BGR")
        XCTAssertEqual(bgr.scalars, [0.1, 0.5, 0.9], "BGR models get blue first")
        let grey = Tensor.batch([image], mean: [0], std: [1])
        XCTAssertEqual(grey.shape, [1, 1, 1, 1])
        XCTAssertEqual(grey.scalars[0], 0.299 * 0.9 + 0.587 * 0.5 + 0.114 * 0.1, accuracy: 1e-6)
    }
}
