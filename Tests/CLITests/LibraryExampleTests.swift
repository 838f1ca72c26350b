import Foundation
import TestSupport
import Vision
import XCTest

/// The README's library example is `Examples/LibraryExample/main.swift`, byte for byte, and
/// the built example runs on a folder of images.
final class LibraryExampleTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func testReadmeShowsTheExampleVerbatim() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let example = try String(contentsOf: Self.root.appendingPathComponent("Examples/LibraryExample/main.swift"), encoding: .utf8)
        guard let start = readme.range(of: "<!-- library-example -->\n```swift\n"),
              let end = readme.range(of: "```\n<!-- /library-example -->", range: start.upperBound..<readme.endIndex)
        else { return XCTFail("README.md has no library-example block") }
        XCTAssertEqual(String(readme[start.upperBound..<end.lowerBound]), example)
    }

    func testTheExampleRunsOnAFolder() throws {
        let temporary = try TemporaryDirectory("library-example")
        defer { temporary.remove() }
        for name in ["cats", "dogs"] {
            try FileManager.default.createDirectory(atPath: temporary.path("photos/\(name)"), withIntermediateDirectories: true)
            for i in 0..<2 {
                let image = Image.generate(width: 40, height: 30, channels: 3) { y, x, c in Float((x + y + c * i) % 11) / 11 }
                try image.writePNG(to: temporary.path("photos/\(name)/\(i).png"))
            }
        }
        let result = try FinetuneBinary.run([], directory: temporary.url, executable: "LibraryExample")
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stdout, "stage3 features [4, 256] for 4 images of 2 classes\n")
    }
}

/// The DocC getting-started article shows `Examples/GettingStarted/main.swift` byte for byte,
/// and the built program loads the zoo's ResNet-18, extracts, fine-tunes, saves and predicts.
final class GettingStartedTests: XCTestCase {
    func testTheArticleShowsTheExampleVerbatim() throws {
        let article = try String(
            contentsOf: LibraryExampleTests.root.appendingPathComponent("Sources/Transfer/Transfer.docc/GettingStarted.md"),
            encoding: .utf8)
        let example = try String(
            contentsOf: LibraryExampleTests.root.appendingPathComponent("Examples/GettingStarted/main.swift"), encoding: .utf8)
        guard let start = article.range(of: "```swift\n"),
            let end = article.range(of: "```\n", range: start.upperBound..<article.endIndex)
        else { return XCTFail("GettingStarted.md has no swift code block") }
        XCTAssertEqual(String(article[start.upperBound..<end.lowerBound]), example)
    }

    func testTheExampleRuns() throws {
        let temporary = try TemporaryDirectory("getting-started")
        defer { temporary.remove() }
        for (c, name) in ["cats", "dogs"].enumerated() {
            try FileManager.default.createDirectory(
                atPath: temporary.path("photos/\(name)"), withIntermediateDirectories: true)
            for i in 0..<5 {
                let image = Image.generate(width: 40, height: 30, channels: 3) { y, x, ch in
                    Float((x * (c + 1) + y + ch * i) % 11) / 11
                }
                try image.writePNG(to: temporary.path("photos/\(name)/\(i).png"))
            }
        }
        let result = try FinetuneBinary.run([], directory: temporary.url, executable: "GettingStarted")
        let output = result.stdout
        XCTAssertEqual(result.status, 0, output + result.stderr)
        let lines = output.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 4, output)
        XCTAssertEqual(lines.first, "resnet18: 93 classes, input [64, 64, 3]")
        XCTAssertEqual(lines.dropFirst().first, "stage3 features [10, 256] for 10 images")
        XCTAssertTrue(lines.dropFirst(2).first?.hasPrefix("validation accuracy ") ?? false, output)
        XCTAssertTrue(lines.last?.contains(": cats with probability") ?? false || lines.last?.contains(": dogs with probability") ?? false, output)
        XCTAssertTrue(FileManager.default.fileExists(atPath: temporary.path("my-model.h5")))
    }
}

/// The README's option table names every option `finetune train --help` lists.
final class ReadmeOptionTests: XCTestCase {
    func testEveryTrainingOptionIsInTheReadme() throws {
        let readme = try String(contentsOf: LibraryExampleTests.root.appendingPathComponent("README.md"), encoding: .utf8)
        let help = try FinetuneBinary.run(["train", "--help"]).stdout
        let options = Set(help.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," })
            .filter { $0.hasPrefix("--") && $0 != "--help" }.map { String($0.prefix { $0 != "=" && $0 != "." && $0 != ")" }) })
        XCTAssertGreaterThan(options.count, 25)
        for option in options.sorted() {
            XCTAssertTrue(readme.contains("`\(option) ") || readme.contains("`\(option)`") || readme.contains("/ `\(option)"),
                          "README's option table lacks \(option)")
        }
    }
}
