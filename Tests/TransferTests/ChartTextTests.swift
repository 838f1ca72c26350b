import Foundation
@testable import Report
import Vision
import XCTest

/// The chart PNGs carry readable text where axes and labels belong: dark, text-coloured
/// pixels (every channel below 0.35, the ink is 0.13) in the title band, left of the plot
/// (tick labels, the y title) and below it (tick labels, the x title). A chart drawn without
/// its text fails, as the blank-canvas control shows.
final class ChartTextTests: XCTestCase {
    /// Dark pixels in `region` (x, y, w, h) of the decoded PNG.
    private func darkPixels(_ canvas: Canvas, _ region: (x: Int, y: Int, w: Int, h: Int)) throws -> Int {
        let image = try ImageDecoder().decode(canvas.pngData())
        var count = 0
        for y in region.y..<min(region.y + region.h, image.height) {
            for x in region.x..<min(region.x + region.w, image.width) {
                if (0..<3).allSatisfy({ image[y, x, $0] < 0.35 }) { count += 1 }
            }
        }
        return count
    }

    /// Title band, left margin and bottom margin of a 640x400 chart (plot frame x 70, y 44, w 550, h 300).
    private func textRegions(_ canvas: Canvas) throws -> [Int] {
        try [
            darkPixels(canvas, (0, 0, 640, 40)), darkPixels(canvas, (0, 44, 68, 300)),
            darkPixels(canvas, (70, 346, 550, 54)),
        ]
    }

    func testCurveChartsHaveTitleTickLabelsAndAxisTitles() throws {
        let chart = Charts.curves(
            title: "demo run: loss", yTitle: "loss",
            series: [.init("train", [2.1, 1.4, 1.0, 0.8]), .init("validation", [2.0, 1.6, 1.3, 1.35])],
            bestEpoch: 3)
        for (region, count) in zip(["title", "left axis", "bottom axis"], try textRegions(chart)) {
            XCTAssertGreaterThan(count, 40, "\(region): \(count) dark pixels")
        }
        let blank = Canvas(width: 640, height: 400)
        XCTAssertEqual(try textRegions(blank), [0, 0, 0], "the check must fail on an empty chart")
    }

    func testTheConfusionMatrixNamesTheClassesAndPrintsCounts() throws {
        let names = ["beverages", "desserts", "fruit"]
        let chart = Charts.confusion(
            [[5, 1, 0], [2, 7, 1], [0, 0, 9]], classNames: names, title: "validation confusion")
        let label = Int(min(160.0, 9 * 7.5 + 12))
        // Row labels left of the cells, and the cells themselves (counts, percentages).
        XCTAssertGreaterThan(try darkPixels(chart, (0, 50, label, chart.height - 50)), 60)
        XCTAssertGreaterThan(try darkPixels(chart, (label + 10, 50, 3 * 64, 3 * 64)), 60)
        XCTAssertGreaterThan(try darkPixels(chart, (0, 0, chart.width, 40)), 40)
    }

    /// Ticks are exact multiples of a round step and reach the end of the range: a 2-epoch
    /// run's axis shows 1 and 2 (a running sum drifted to 2.0000000000000004 and lost the 2).
    func testTicksReachTheEndOfTheRangeExactly() {
        XCTAssertEqual(Axes.ticks(1...2, count: 6), [1, 1.2, 1.4, 1.6, 1.8, 2])
        XCTAssertEqual(Axes.ticks(1...2, count: 6).filter { abs($0 - $0.rounded()) < 1e-6 }, [1, 2])
        XCTAssertEqual(Axes.ticks(0...1), [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(Axes.ticks(-0.3...0.3, count: 3), [-0.2, 0, 0.2])
    }
}
