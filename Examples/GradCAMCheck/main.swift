import Foundation
import Graft

// Does Grad-CAM point at the object? Fine-tunes `--base resnet --freeze 3` on the demo
// dataset with its defaults (or loads `--model FILE`), explains every validation image and
// compares the heat map with the object's pixels. The demo's drawings sit on a plain
// background, so the object is every pixel that differs from the border's median colour by
// more than 0.1 in some channel. Two measures per image and stage:
//  - pointing game (Zhang et al. 2016): the hottest pixel lies on the object;
//  - the share of the heat on the object against the object's share of the area (denser on
//    the object than a uniform map would be).
// Run: swift run -c release GradCAMCheck [--model runs/NAME/model.h5] [--out gradcam-check]

let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    arguments.firstIndex(of: name).flatMap { $0 + 1 < arguments.count ? arguments[$0 + 1] : nil }
}
let out = option("--out") ?? "gradcam-check"

let options = FineTuneOptions(base: "resnet", freeze: .stages(3))
let plan = try FineTune.resolve(options)
let data = try FineTune.loadData(plan, log: .silent)
let modelFile: String
if let given = option("--model") {
    modelFile = given
} else {
    var o = options
    o.runsDirectory = out + "/runs"
    let result = try FineTune.run(o, log: .silent)
    print("fine-tuned: \(result.summaryLine)")
    modelFile = result.runFolder + "/model.h5"
}
let trained = try TrainedModel(contentsOf: modelFile)
let p = trained.preprocessing

/// The object: pixels farther than 0.1 from the median colour of the image's border.
func objectMask(_ image: Image) -> [Bool] {
    let (w, h, c) = (image.width, image.height, image.channels)
    var border: [[Float]] = Array(repeating: [], count: c)
    for y in 0..<h {
        for x in 0..<w where y == 0 || x == 0 || y == h - 1 || x == w - 1 {
            for ch in 0..<c { border[ch].append(image[y, x, ch]) }
        }
    }
    let background = border.map { $0.sorted()[$0.count / 2] }
    return (0..<(w * h)).map { i in
        (0..<c).contains { abs(image.data[i * c + $0] - background[$0]) > 0.1 }
    }
}

struct Tally {
    var images = 0
    var pointing = 0
    var denser = 0
    var heatShare = 0.0
    var areaShare = 0.0
}
let stages = ["stage2", "stage3", "stage4"]
var tallies = Array(repeating: Tally(), count: stages.count)
var skipped = 0
try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
for (n, index) in data.split.validation.enumerated() {
    let image = data.images.images[index].resized(width: p.inputSize[1], height: p.inputSize[0])
    let mask = objectMask(image)
    let area = Double(mask.filter { $0 }.count) / Double(mask.count)
    guard area > 0.02, area < 0.9 else {  // no background, or no object, to compare with
        skipped += 1
        continue
    }
    let input = Tensor.batch([image], mean: p.mean, std: p.std, channelOrder: p.channelOrder)
    for (s, stage) in stages.enumerated() {
        let result = try GradCAM.explain(trained.model, input: input, stage: stage)
        let heat = result.heat.data
        let total = heat.reduce(0, +)
        guard total > 0 else { continue }
        let onObject = zip(heat, mask).filter { $0.1 }.map { Double($0.0) }.reduce(0, +)
        let hottest = heat.indices.max { heat[$0] < heat[$1] }!
        let share = onObject / Double(total)
        tallies[s].images += 1
        tallies[s].pointing += mask[hottest] ? 1 : 0
        tallies[s].denser += share > area ? 1 : 0
        tallies[s].heatShare += share
        tallies[s].areaShare += area
        if n < 8 {
            let caption = String(format: "%@ (%@): heat on object %.0f%%, object area %.0f%%", trained.classNames[result.classIndex],
                                 stage, share * 100, area * 100)
            try Charts.heatOverlay(image: image, heat: result.heat, caption: caption).writePNG(to: "\(out)/\(n)-\(stage).png")
        }
    }
}
print("model \(modelFile); \(data.split.validation.count) validation images, \(skipped) left out (object under 2% or over 90% of the image)")
print("stage   images  pointing game  heat denser on object  mean heat on object  mean object area")
for (s, stage) in stages.enumerated() {
    let t = tallies[s]
    let count = Double(max(t.images, 1))
    print(String(format: "%@  %6d  %6d (%4.1f%%)  %6d (%4.1f%%)        %5.1f%%              %5.1f%%", stage, t.images, t.pointing,
                 Double(t.pointing) / count * 100, t.denser, Double(t.denser) / count * 100, t.heatShare / count * 100,
                 t.areaShare / count * 100))
}
print("pictures of the first 8: \(out)/")
