import Engine
import Foundation
import TestSupport
import Vision
import XCTest

final class DatasetTests: XCTestCase {
    private var temporary: TemporaryDirectory!
    private var root: URL { temporary.url }

    override func setUpWithError() throws { temporary = try TemporaryDirectory("data") }

    override func tearDownWithError() throws { temporary.remove() }

    /// Writes `count` distinct PNGs into `root/class`.
    @discardableResult
    private func makeClass(_ name: String, count: Int, size: Int = 12, shade: Float = 0) throws -> URL {
        let dir = root.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for i in 0..<count {
            let image = Image.generate(width: size, height: size, channels: 3) { y, x, c in
                (Float((x + y + c + i) % 7) / 7 + shade).truncatingRemainder(dividingBy: 1)
            }
            try image.writePNG(to: dir.appendingPathComponent("img \(i).png").path)
        }
        return dir
    }

    func testPNGRoundTripIsExactFor8BitImages() throws {
        for channels in [1, 3] {
            var rng = RandomGenerator(seed: UInt64(channels))
            let bytes = (0..<(13 * 7 * channels)).map { _ in UInt8(rng.next() % 256) }
            let image = Image(width: 13, height: 7, channels: channels, bytes: bytes)
            let decoded = try ImageDecoder().decode(try image.pngData())
            XCTAssertEqual(decoded.bytes, bytes)
            XCTAssertEqual(decoded, image)
        }
    }

    func testImageFolderSortsClassesCountsAndIgnoresOtherFiles() throws {
        try makeClass("zebra", count: 2)
        let ants = try makeClass("ants ü", count: 3)
        try "notes".write(to: ants.appendingPathComponent("README.txt"), atomically: true, encoding: .utf8)
        let folder = try ImageFolder(root.path)
        XCTAssertEqual(folder.classNames, ["ants ü", "zebra"])
        XCTAssertEqual(folder.classCounts, [3, 2])
        XCTAssertEqual(folder.ignoredFiles.count, 1)
        XCTAssertEqual(folder.classWeights, [5.0 / 6, 5.0 / 4])
        XCTAssertEqual(try folder.image(at: 0).width, 12, "paths with spaces and non-ASCII characters load")
    }

    /// A symlinked class folder and a symlinked image count; a link cycle and a dangling
    /// link are reported with their reason, and the walk ends.
    func testSymlinkedClassesAndImagesAreFollowedAndCyclesReported() throws {
        try makeClass("circle", count: 2)
        let square = try makeClass("square", count: 1)
        let elsewhere = try TemporaryDirectory("elsewhere")
        defer { elsewhere.remove() }
        let outside = elsewhere.url.appendingPathComponent("triangle")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        let image = Image.generate(width: 8, height: 8, channels: 3) { y, x, c in Float((x * y + c) % 5) / 5 }
        try image.writePNG(to: outside.appendingPathComponent("t.png").path)
        let fm = FileManager.default
        try fm.createSymbolicLink(
            atPath: root.appendingPathComponent("triangle").path, withDestinationPath: outside.path)
        try fm.createSymbolicLink(
            atPath: square.appendingPathComponent("linked.png").path,
            withDestinationPath: outside.appendingPathComponent("t.png").path)
        try fm.createSymbolicLink(atPath: square.appendingPathComponent("loop").path, withDestinationPath: "..")
        try fm.createSymbolicLink(
            atPath: square.appendingPathComponent("gone.png").path, withDestinationPath: "/nonexistent/x.png")
        let folder = try ImageFolder(root.path)
        XCTAssertEqual(folder.classNames, ["circle", "square", "triangle"])
        XCTAssertEqual(folder.classCounts, [2, 2, 1])
        let reasons = folder.skipped.map(\.description).joined(separator: "\n")
        XCTAssertEqual(folder.skipped.count, 2, reasons)
        XCTAssertTrue(reasons.contains("loop: a symbolic link cycle"), reasons)
        XCTAssertTrue(reasons.contains("gone.png: a symbolic link to nothing (/nonexistent/x.png)"), reasons)
        XCTAssertEqual(
            try folder.image(at: folder.files.firstIndex { $0.hasSuffix("linked.png") }!), try folder.image(at: 4))
        XCTAssertEqual(folder.relativePath(at: 4), "triangle/t.png")
    }

    func testEmptyClassFolderAndSingleClassAreRefused() throws {
        try makeClass("cats", count: 2)
        XCTAssertThrowsError(try ImageFolder(root.path)) { error in
            XCTAssertEqual(error as? DatasetFolderError, .singleClass(root: root.path, name: "cats"))
            XCTAssertTrue("\(error)".contains("at least two"))
        }
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("dogs"), withIntermediateDirectories: true)
        XCTAssertThrowsError(try ImageFolder(root.path)) { error in
            XCTAssertTrue("\(error)".contains("dogs") && "\(error)".contains("no PNG or JPEG"), "\(error)")
        }
        XCTAssertThrowsError(try ImageFolder(root.appendingPathComponent("nope").path)) { error in
            XCTAssertTrue("\(error)".contains("no such folder"))
        }
    }

    func testUnreadableImagesAreSkippedWithTheirPathOrFailInStrictMode() throws {
        try makeClass("a", count: 2)
        let b = try makeClass("b", count: 2)
        let bad = b.appendingPathComponent("broken.png").path
        let good = try Data(contentsOf: b.appendingPathComponent("img 0.png"))
        try good.prefix(good.count / 2).write(to: URL(fileURLWithPath: bad))
        _ = FileManager.default.createFile(atPath: b.appendingPathComponent("zero.png").path, contents: Data())
        let folder = try ImageFolder(root.path)
        let (images, skipped) = try InMemoryImages.decoding(folder)
        XCTAssertEqual(images.count, 4)
        XCTAssertEqual(Set(skipped.map(\.path)), [bad, b.appendingPathComponent("zero.png").path])
        XCTAssertTrue(skipped.contains { $0.reason.contains("empty (0 bytes)") })
        XCTAssertThrowsError(try InMemoryImages.decoding(folder, strict: true))
    }

    func testPixelLimitRefusesBeforeDecoding() throws {
        let image = Image(width: 300, height: 200, channels: 1)
        let decoder = ImageDecoder(maxPixels: 50_000)
        XCTAssertThrowsError(try decoder.decode(try image.pngData(), path: "big.png")) { error in
            XCTAssertEqual(error as? ImageError, .tooLarge(path: "big.png", width: 300, height: 200, limit: 50_000))
        }
    }

    func testStratifiedSplitKeepsProportionsAndIsSeeded() throws {
        let labels = Array(repeating: 0, count: 50) + Array(repeating: 1, count: 30) + Array(repeating: 2, count: 20)
        let split = DatasetSplit.stratified(labels: labels, validation: 0.2, test: 0.1, seed: 7)
        XCTAssertEqual(split.validation.map { labels[$0] }.filter { $0 == 0 }.count, 10)
        XCTAssertEqual(split.validation.map { labels[$0] }.filter { $0 == 2 }.count, 4)
        XCTAssertEqual(split.test.count, 10)
        XCTAssertEqual(Set(split.train + split.validation + split.test).count, 100, "every example once")
        XCTAssertEqual(split, DatasetSplit.stratified(labels: labels, validation: 0.2, test: 0.1, seed: 7))
        XCTAssertNotEqual(split, DatasetSplit.stratified(labels: labels, validation: 0.2, test: 0.1, seed: 8))
        let path = root.appendingPathComponent("split.json").path
        try split.save(to: path)
        XCTAssertEqual(try DatasetSplit.load(path), split)
    }

    func testCSVLabels() throws {
        let dir = try makeClass("all", count: 4)
        let csv = root.appendingPathComponent("labels.csv").path
        try "filename,label\nimg 0.png,cat\nimg 1.png,dog\nimg 2.png,cat\nimg 3.png,dog\n".write(
            toFile: csv, atomically: true, encoding: .utf8)
        let files = try LabeledFiles(folder: dir.path, csv: csv)
        XCTAssertEqual(files.classNames, ["cat", "dog"])
        XCTAssertEqual(files.labels, [0, 1, 0, 1])
        XCTAssertEqual(try files.image(at: 3).height, 12)
        try "image_id,class\n\"img 0.png\",\"big, cat\"\nimg 1.png,dog\n".write(
            toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertEqual(
            try LabeledFiles(folder: dir.path, csv: csv).classNames, ["big, cat", "dog"], "any header; quoted commas")
        try "img 0.png,cat\nimg 1.png\n".write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabeledFiles(folder: dir.path, csv: csv)) {
            XCTAssertTrue("\($0)".contains("labels.csv:2"), "\($0)")
        }
        try "img 0.png,cat\nnope.png,dog\n".write(toFile: csv, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LabeledFiles(folder: dir.path, csv: csv)) {
            XCTAssertTrue("\($0)".contains("nope.png"), "\($0)")
        }
    }
}

final class LoaderTests: XCTestCase {
    private func source(_ n: Int = 23) -> InMemoryImages {
        var rng = RandomGenerator(seed: 1)
        let images = (0..<n).map { _ in
            Image.generate(width: 10, height: 8, channels: 3) { _, _, _ in rng.nextUniform() }
        }
        return InMemoryImages(images: images, labels: (0..<n).map { $0 % 3 }, classNames: ["a", "b", "c"])
    }

    private func loader(_ s: InMemoryImages, seed: UInt64) throws -> BatchLoader {
        BatchLoader(
            source: s, batchSize: 5, imageSize: (8, 8), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
            augmentation: try Augmentation(spec: "hflip,rotate=10,jitter=0.2,noise=0.01"), seed: seed)
    }

    func testEveryIndexOncePerEpochInShapedNormalisedBatches() throws {
        let s = source()
        let batches = Array(try loader(s, seed: 3).batches(epoch: 0))
        XCTAssertEqual(batches.count, 5)
        XCTAssertEqual(batches.map { $0.images.shape[0] }, [5, 5, 5, 5, 3])
        XCTAssertEqual(batches[0].images.shape, [5, 8, 8, 3])
        XCTAssertEqual(batches.flatMap(\.indices).sorted(), Array(0..<23))
        XCTAssertEqual(batches.flatMap(\.labels), batches.flatMap(\.indices).map { $0 % 3 })
        let plain = BatchLoader(
            source: s, batchSize: 23, imageSize: (8, 10), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25], shuffle: false
        )
        let first = Array(plain.batches(epoch: 0))[0]
        XCTAssertEqual(
            first.images[0, 1, 2, 0], (s.images[0][1, 2, 0] - 0.5) / 0.25, accuracy: 1e-5,
            "normalised with mean and std")
    }

    func testSameSeedSameBatchesAndAugmentations() throws {
        let s = source()
        let a = Array(try loader(s, seed: 11).batches(epoch: 2))
        let b = Array(try loader(s, seed: 11).batches(epoch: 2))
        XCTAssertEqual(a.map(\.indices), b.map(\.indices))
        XCTAssertEqual(a.map(\.images), b.map(\.images))
        let other = Array(try loader(s, seed: 11).batches(epoch: 3))
        XCTAssertNotEqual(a.map(\.indices), other.map(\.indices), "each epoch reshuffles")
        let saved = Threads.count
        Threads.count = 1
        let single = Array(try loader(s, seed: 11).batches(epoch: 2))
        Threads.count = saved
        XCTAssertEqual(single.map(\.images), a.map(\.images), "the thread count does not change the result")
    }

    func testStoppingEarlyReleasesTheProducer() throws {
        let l = try loader(source(200), seed: 1)
        for (i, _) in l.batches(epoch: 0).enumerated() where i == 1 { break }
        XCTAssertEqual(Array(l.batches(epoch: 1)).count, 40, "a fresh epoch still runs to the end")
    }
}

final class PreviewTests: XCTestCase {
    func testGridLayoutAndReplayableRecords() throws {
        let pipeline = try Augmentation(spec: "hflip,rotate=30,jitter=0.2")
        let sources = (0..<2).map { i in
            (
                "img\(i)",
                Image.generate(width: 20, height: 20, channels: 3) { y, x, c in Float((x * (i + 1) + y + c) % 20) / 20 }
            )
        }
        let preview = AugmentationPreview(images: sources, augmentation: pipeline, versions: 3, seed: 5, cellSize: 20)
        XCTAssertEqual([preview.grid.width, preview.grid.height], [4 * 20 + 5 * 2, 2 * 20 + 3 * 2])
        XCTAssertEqual(preview.records.count, 6)
        XCTAssertEqual(preview.grid[2, 2, 0], sources[0].1[0, 0, 0], accuracy: 1e-6, "the original comes first")
        // Replaying a record reproduces the cell.
        let record = preview.records[4]  // image 1, version 2
        let replayed = try pipeline.replay(sources[1].1, steps: record.steps)
        let (x0, y0) = (2 + 2 * 22, 2 + 1 * 22)
        XCTAssertEqual(preview.grid[y0 + 7, x0 + 9, 1], replayed.clamped()[7, 9, 1], accuracy: 1e-6)
        let out = FileManager.default.temporaryDirectory.appendingPathComponent(
            "preview-\(UUID().uuidString.prefix(6)).png"
        ).path
        try preview.write(to: out)
        let decoded = try ImageDecoder().decode(contentsOf: out)
        XCTAssertEqual(decoded.width, preview.grid.width)
        let json = try JSONDecoder().decode(
            [AugmentationPreview.Record].self,
            from: Data(contentsOf: URL(fileURLWithPath: (out as NSString).deletingPathExtension + ".json")))
        XCTAssertEqual(json, preview.records)
    }

    func testRGBAEncodingRoundTripsThroughCompositing() throws {
        let rgba: [UInt8] = [255, 0, 0, 255, 0, 0, 255, 0]  // opaque red, transparent blue
        let png = try PNGEncoder.encode(width: 2, height: 1, channels: 4, bytes: rgba)
        XCTAssertEqual(
            try ImageDecoder().decode(png).bytes, [255, 0, 0, 255, 255, 255], "transparency shows the white background")
        XCTAssertThrowsError(try PNGEncoder.encode(width: 2, height: 1, channels: 5, bytes: rgba))
    }
}
