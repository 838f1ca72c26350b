// Prints decode + augment + batch throughput (images/s) of the batch loader for 64x64 and
// 224x224 outputs, from PNG files on disk (written first into a temporary folder).
//
//   swift run -c release LoaderBenchmark [--images 512] [--source 256]
import Foundation
import Engine
import Vision

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count, let v = Int(arguments[i + 1]) else { return fallback }
    return v
}
let count = option("--images", 512), sourceSize = option("--source", 256)
let root = FileManager.default.temporaryDirectory.appendingPathComponent("graft-loader-bench")
try? FileManager.default.removeItem(at: root)
var rng = RandomGenerator(seed: 0)
for c in 0..<4 {
    let dir = root.appendingPathComponent("class\(c)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    for i in 0..<(count / 4) {
        let phase = rng.nextUniform() * 6
        let image = Image.generate(width: sourceSize, height: sourceSize, channels: 3) { y, x, ch in
            0.5 + 0.5 * sin(Float(x) * 0.05 + Float(y) * 0.03 * Float(ch + 1) + phase)
        }
        try image.writePNG(to: dir.appendingPathComponent("\(i).png").path)
    }
}
let folder = try ImageFolder(root.path)
let pipeline = try Augmentation(spec: "hflip,rotate=15,zoom=0.1,jitter=0.3")
// Decoding alone, on both cores, for comparison.
let decodeStart = Date()
DispatchQueue.concurrentPerform(iterations: 2) { worker in
    for i in stride(from: worker, to: folder.count, by: 2) { _ = try? folder.image(at: i) }
}
let decodeSeconds = Date().timeIntervalSince(decodeStart)
print(String(format: "decode only (PNG 256x256, 2 threads): %.0f images/s", Double(folder.count) / decodeSeconds))
print("Loader benchmark: \(folder.count) PNGs of \(sourceSize)x\(sourceSize), pipeline hflip,rotate=15,zoom=0.1,jitter=0.3, \(Threads.count) threads")
for size in [64, 224] {
    let loader = BatchLoader(source: folder, batchSize: 32, imageSize: (size, size), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25],
                             augmentation: pipeline, seed: 1)
    func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
    let t0 = Date(), cpu0 = cpuSeconds()
    var images = 0
    for batch in loader.batches(epoch: 0) { images += batch.labels.count }
    let seconds = Date().timeIntervalSince(t0), cpu = cpuSeconds() - cpu0
    print(String(format: "%3dx%-3d  decode+augment+batch  %7.0f images/s  (%d images in %.2f s, %.2f cores busy on average)",
                 size, size, Double(images) / seconds, images, seconds, cpu / seconds))
}
try? FileManager.default.removeItem(at: root)
