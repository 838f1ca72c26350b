import Engine
import Foundation
import Layers
import TestSupport
import Transfer
import Vision
import XCTest
import Zoo

/// `finetune extract`: each row's path (relative to --data) and integer label line up with the
/// folder and with the row's features; undecodable images are left out without shifting rows.
final class ExtractTests: XCTestCase {
    func testRowsPathsAndLabelsLineUpWithTheFolder() throws {
        let temporary = try TemporaryDirectory("extract")
        defer { temporary.remove() }
        let data = temporary.path("data")
        for (c, name) in ["apples", "pears", "plums"].enumerated() {
            try FileManager.default.createDirectory(atPath: data + "/" + name, withIntermediateDirectories: true)
            for i in 0..<(2 + c) {
                let image = Image.generate(width: 20 + i, height: 16, channels: 1) { y, x, _ in
                    Float((x * (c + 1) + y * i) % 9) / 9
                }
                try image.writePNG(to: data + "/\(name)/img\(i).png")
            }
        }
        try "broken".write(toFile: data + "/pears/zz-broken.png", atomically: true, encoding: .utf8)
        let out = temporary.path("features.h5")
        for pooling in ["avg", "none"] {
            let result = try FinetuneBinary.run([
                "extract", "--base", "lenet5", "--layer", "conv2", "--data", data, "--out", out,
                "--pooling", pooling,
            ])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stderr.contains("zz-broken.png"), result.stderr)
            let file = try HDF5File(reading: out)
            let paths = try file.readStringDataset("paths")
            let labels = try file.readTensor("labels").scalars.map { Int($0) }
            let features = try file.readTensor("features")
            let classes = try file.readStrings("class_names")
            XCTAssertEqual(classes, ["apples", "pears", "plums"])
            XCTAssertEqual(
                paths,
                [
                    "apples/img0.png", "apples/img1.png", "pears/img0.png", "pears/img1.png", "pears/img2.png",
                    "plums/img0.png", "plums/img1.png", "plums/img2.png", "plums/img3.png",
                ])
            XCTAssertEqual(labels, paths.map { classes.firstIndex(of: String($0.split(separator: "/")[0]))! })
            XCTAssertEqual(features.shape[0], paths.count)
            XCTAssertEqual(try file.readStrings("pooling"), [pooling])

            // Row i holds the features of image paths[i] (same seed-0 LeNet-5 in-process).
            Random.seed(0)
            let model = try Architectures.entry("lenet5").configuration(nil).build()
            XCTAssertEqual(try file.readStrings("weights_content_hash"), [WeightFile.contentHash(of: model)])
            let extractor = try FeatureExtractor(model: model, stage: "conv2", pooling: pooling == "none" ? nil : .avg)
            let p = try Architectures.entry("lenet5").preprocessing
            for row in [0, 4, 8] {
                let image = try ImageDecoder().decode(
                    contentsOf: data + "/" + paths[row], fitting: (p.inputSize[1], p.inputSize[0]))
                let expected = extractor.features(
                    Tensor.batch([image], mean: p.mean, std: p.std, channelOrder: p.channelOrder))
                assertClose(
                    features.slice(batch: row..<(row + 1)), expected, rtol: 1e-5, atol: 1e-6,
                    "row \(row) (\(paths[row]))")
            }
        }
    }
}
