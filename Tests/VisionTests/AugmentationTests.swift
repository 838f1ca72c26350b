import Engine
import Foundation
import Vision
import XCTest

/// Each op's geometric or colour effect on synthetic images (tolerance 1e-5 unless stated).
final class AugmentationTests: XCTestCase {
    /// A horizontal gradient: value = x / (width - 1), same in every channel.
    func gradient(width: Int = 8, height: Int = 6, channels: Int = 3) -> Image {
        .generate(width: width, height: height, channels: channels) { _, x, _ in Float(x) / Float(width - 1) }
    }

    /// Random RGB values in [0.2, 0.8] (no clamping in colour ops).
    func noiseImage(seed: UInt64 = 1, width: Int = 9, height: Int = 7) -> Image {
        var rng = RandomGenerator(seed: seed)
        return .generate(width: width, height: height, channels: 3) { _, _, _ in 0.2 + 0.6 * rng.nextUniform() }
    }

    func mean(_ image: Image) -> Float { image.data.reduce(0, +) / Float(image.data.count) }

    func testFlipsReverseTheGradient() {
        let g = gradient()
        let h = AugmentationOp.horizontalFlip(p: 1).apply(g, [:])
        for x in 0..<8 { XCTAssertEqual(h[2, x, 1], g[2, 7 - x, 1]) }
        let v = AugmentationOp.verticalFlip(p: 1).apply(g.rotated90(1), [:])
        XCTAssertEqual(v, g.rotated90(1).flippedVertically())
        XCTAssertEqual(g.rotated90(1).flippedVertically().flippedVertically(), g.rotated90(1))
    }

    /// Augmentation fills what a rotation uncovers with the nearest edge pixel: a white
    /// drawing stays white in the corners (a plain `rotated` fills with 0, as torchvision does).
    func testRotationFillsTheCornersWithTheEdgeNotBlack() throws {
        var white = Image(width: 16, height: 16, channels: 3, fill: 1)
        white[8, 8, 0] = 0  // something to rotate
        let pipeline = try Augmentation(spec: "rotate=45")
        let steps = [AugmentationStep(op: "rotate", applied: true, parameters: ["degrees": 45])]
        let augmented = try pipeline.replay(white, steps: steps)
        for (y, x) in [(0, 0), (0, 15), (15, 0), (15, 15)] {
            for c in 0..<3 { XCTAssertEqual(augmented[y, x, c], 1, accuracy: 1e-6, "corner (\(y), \(x))") }
        }
        XCTAssertEqual(white.rotated(degrees: 45)[0, 0, 0], 0, "the plain rotation keeps fill 0")
        let zoomedOut = AugmentationOp.zoom(fraction: 0.5, p: 1).apply(white, ["scale": 0.5])
        XCTAssertEqual(zoomedOut[0, 0, 1], 1, accuracy: 1e-6, "a zoom out fills with the edge too")
    }

    func testNinetyDegreeRotationMovesAMarkedPixel() {
        var image = Image(width: 5, height: 5, channels: 1)
        image[0, 4, 0] = 1  // top-right
        let quarter = image.rotated90(1)
        XCTAssertEqual(quarter[0, 0, 0], 1, "counter-clockwise: top-right goes to top-left")
        let rotated = AugmentationOp.rotate(degrees: 90, p: 1).apply(image, ["degrees": 90])
        for i in rotated.data.indices { XCTAssertEqual(rotated.data[i], quarter.data[i], accuracy: 1e-5) }
        XCTAssertEqual(image.rotated90(4), image)
        XCTAssertEqual(image.rotated90(-1), image.rotated90(3))
    }

    func testCropsAndResizedCrop() {
        let g = gradient(width: 10, height: 10)
        let cropped = AugmentationOp.crop(size: 8, padding: 2, p: 1).apply(g, ["x": 0, "y": 0])
        XCTAssertEqual(cropped.width, 8)
        XCTAssertEqual(cropped[0, 0, 0], 0, "the padding is black")
        XCTAssertEqual(cropped[3, 3, 0], g[1, 1, 0])
        var rng = RandomGenerator(seed: 3)
        let op = AugmentationOp.resizedCrop(size: 6, scale: 0.3...0.6, ratio: 0.75...1.33, p: 1)
        let p = op.sample(width: 10, height: 10, using: &rng)
        XCTAssertTrue((30.0...65).contains(p["width"]! * p["height"]!), "area \(p)")
        let out = op.apply(g, p)
        XCTAssertEqual([out.width, out.height], [6, 6])
        XCTAssertEqual(out[0, 0, 0], g[Int(p["y"]!), Int(p["x"]!), 0], accuracy: 0.12, "the window's corner ends up at the corner")
    }

    func testZoomTranslateAndShear() {
        let g = gradient(width: 9, height: 9)
        let zoomed = AugmentationOp.zoom(fraction: 1, p: 1).apply(g, ["scale": 2])
        XCTAssertEqual(zoomed[4, 4, 0], g[4, 4, 0], accuracy: 1e-6, "the centre stays")
        XCTAssertEqual(zoomed[4, 8, 0], g[4, 6, 0], accuracy: 1e-6, "4 pixels right of centre shows what was 2 right")
        let shifted = AugmentationOp.translate(fraction: 1, p: 1).apply(g, ["dx": 2, "dy": 0])
        XCTAssertEqual(shifted[3, 5, 0], g[3, 3, 0], accuracy: 1e-6)
        XCTAssertEqual(shifted[3, 1, 0], 0, "uncovered pixels are black")
        let sheared = AugmentationOp.shear(degrees: 30, p: 1).apply(g, ["degrees": 30])
        for x in 0..<9 { XCTAssertEqual(sheared[4, x, 0], g[4, x, 0], accuracy: 1e-5, "the centre row does not move") }
        XCTAssertNotEqual(sheared[0, 4, 0], g[0, 4, 0])
    }

    func testBrightnessContrastSaturationHueGreyscale() {
        let image = noiseImage()
        let brighter = AugmentationOp.brightness(amount: 0.5, p: 1).apply(image, ["factor": 1.2])
        XCTAssertEqual(mean(brighter), mean(image) * 1.2, accuracy: 1e-5, "brightness scales the mean by the factor")
        let flat = AugmentationOp.contrast(amount: 1, p: 1).apply(image, ["factor": 0])
        let greyMean = mean(image.greyscale())
        XCTAssertTrue(flat.data.allSatisfy { abs($0 - greyMean) < 1e-5 }, "contrast 0 leaves the mean grey level")
        let halfContrast = AugmentationOp.contrast(amount: 1, p: 1).apply(image, ["factor": 0.5])
        XCTAssertEqual(halfContrast[2, 3, 1], greyMean + 0.5 * (image[2, 3, 1] - greyMean), accuracy: 1e-5)
        let desaturated = AugmentationOp.saturation(amount: 1, p: 1).apply(image, ["factor": 0])
        XCTAssertEqual(desaturated[1, 1, 0], desaturated[1, 1, 2], accuracy: 1e-6)
        var red = Image(width: 1, height: 1, channels: 3)
        red[0, 0, 0] = 1
        let green = AugmentationOp.hue(amount: 0.5, p: 1).apply(red, ["shift": 1.0 / 3])
        XCTAssertEqual(green.data, [0, 1, 0], "a third of the colour circle turns red into green")
        let grey = AugmentationOp.greyscale(p: 1).apply(image, [:])
        XCTAssertEqual(grey.channels, 3)
        XCTAssertEqual(grey[3, 3, 0], 0.299 * image[3, 3, 0] + 0.587 * image[3, 3, 1] + 0.114 * image[3, 3, 2], accuracy: 1e-6)
    }

    func testNoiseBlurAndErase() {
        let flat = Image(width: 64, height: 64, channels: 1, fill: 0.5)
        var rng = RandomGenerator(seed: 2)
        let op = AugmentationOp.noise(std: 0.05, p: 1)
        let noisy = op.apply(flat, op.sample(width: 64, height: 64, using: &rng))
        let m = mean(noisy), sd = (noisy.data.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Float(noisy.data.count)).squareRoot()
        XCTAssertEqual(m, 0.5, accuracy: 0.005)        // std/sqrt(4096) = 0.0008; 6 sigma
        XCTAssertEqual(sd, 0.05, accuracy: 0.004)
        XCTAssertEqual(AugmentationOp.blur(sigma: 2, p: 1).apply(flat, ["sigma": 2]).data.map { ($0 * 1e4).rounded() / 1e4 }, flat.data)
        var impulse = Image(width: 15, height: 15, channels: 1)
        impulse[7, 7, 0] = 1
        let blurred = impulse.blurred(sigma: 1.5)
        XCTAssertEqual(blurred.data.reduce(0, +), 1, accuracy: 1e-5, "blurring keeps the total")
        XCTAssertLessThan(blurred[7, 7, 0], 0.2)
        XCTAssertEqual(blurred[7, 6, 0], blurred[6, 7, 0], accuracy: 1e-6, "isotropic")
        let erased = AugmentationOp.erase(fraction: 0.5, p: 1).apply(Image(width: 8, height: 8, channels: 3, fill: 1),
                                                                   ["x": 2, "y": 3, "width": 3, "height": 2])
        XCTAssertEqual(erased.data.filter { $0 == 0 }.count, 3 * 2 * 3)
        XCTAssertEqual(erased[3, 2, 0], 0)
        XCTAssertEqual(erased[5, 2, 0], 1)
    }

    func testReplayReproducesEveryAugmentedImageExactly() throws {
        let pipeline = try Augmentation(spec: "hflip,vflip,rotate=20,crop=7:2,zoom=0.2,translate=0.1,shear=10,jitter=0.3,hue=0.1,grey@0.5,noise=0.02,blur=1,erase=0.4@0.7")
        let image = noiseImage()
        var rng = RandomGenerator(seed: 99)
        for _ in 0..<20 {
            let (augmented, steps) = pipeline.apply(image, using: &rng)
            XCTAssertEqual(try pipeline.replay(image, steps: steps), augmented)
            let json = try JSONEncoder().encode(steps)
            XCTAssertEqual(try pipeline.replay(image, steps: JSONDecoder().decode([AugmentationStep].self, from: json)), augmented,
                           "the recorded JSON is enough to replay")
        }
        XCTAssertThrowsError(try Augmentation(spec: "hflip").replay(image, steps: [])) { error in
            XCTAssertTrue("\(error)".contains("not made by this pipeline"), "\(error)")
        }
    }

    /// Consecutive geometric ops are fused into one warp: the result equals applying them one
    /// by one (exactly, for quarter turns and whole-pixel shifts, away from the filled border).
    func testFusedGeometricOpsMatchSequentialApplication() throws {
        let pipeline = Augmentation([.rotate(degrees: 90, p: 1), .translate(fraction: 0.5, p: 1), .zoom(fraction: 0.5, p: 1)])
        let image = noiseImage(width: 9, height: 9)
        let steps = [AugmentationStep(op: "rotate", applied: true, parameters: ["degrees": 90]),
                     AugmentationStep(op: "translate", applied: true, parameters: ["dx": 1, "dy": -2]),
                     AugmentationStep(op: "zoom", applied: true, parameters: ["scale": 1])]
        let fused = try pipeline.replay(image, steps: steps)
        var sequential = image
        for (op, step) in zip(pipeline.ops, steps) { sequential = op.apply(sequential, step.parameters) }
        for y in 3..<6 { for x in 3..<6 { for c in 0..<3 { XCTAssertEqual(fused[y, x, c], sequential[y, x, c], accuracy: 1e-5) } } }
        let roundTrip = try Augmentation([.zoom(fraction: 1, p: 1), .zoom(fraction: 1, p: 1)])
            .replay(image, steps: [AugmentationStep(op: "zoom", applied: true, parameters: ["scale": 2]),
                                   AugmentationStep(op: "zoom", applied: true, parameters: ["scale": 0.5])])
        for i in image.data.indices { XCTAssertEqual(roundTrip.data[i], image.data[i], accuracy: 1e-5, "zoom 2 then 0.5 is the identity, resampled once") }
    }

    func testTextForm() throws {
        let pipeline = try Augmentation(spec: "hflip,rotate=15,crop=56,jitter=0.3")
        XCTAssertEqual(pipeline.ops, [.horizontalFlip(p: 0.5), .rotate(degrees: 15, p: 1), .crop(size: 56, padding: 0, p: 1),
                                      .brightness(amount: 0.3, p: 1), .contrast(amount: 0.3, p: 1), .saturation(amount: 0.3, p: 1)])
        XCTAssertEqual(try Augmentation(spec: "vflip@0.2, crop=32:4").ops, [.verticalFlip(p: 0.2), .crop(size: 32, padding: 4, p: 1)])
        XCTAssertThrowsError(try Augmentation(spec: "hflip,twirl=3")) { XCTAssertTrue("\($0)".contains("unknown augmentation 'twirl'")) }
        XCTAssertThrowsError(try Augmentation(spec: "rotate=abc")) { XCTAssertTrue("\($0)".contains("numbers")) }
        XCTAssertThrowsError(try Augmentation(spec: "hflip@2")) { XCTAssertTrue("\($0)".contains("[0, 1]")) }
    }

    func testMixupAndCutmixMixLabelsByTheirLambda() {
        var rng = RandomGenerator(seed: 4)
        let images = Tensor.randomUniform([4, 6, 6, 1], using: &rng)
        var targets = Tensor.zeros([4, 3])
        for (i, c) in [0, 1, 2, 0].enumerated() { targets[i, c] = 1 }
        let (mixed, soft, draw) = BatchMix.mixup(alpha: 0.4).apply(images: images, targets: targets, using: &rng)
        XCTAssertTrue((0...1).contains(draw.lambda))
        XCTAssertEqual(soft.sum(axes: [1]).scalars.map { ($0 * 1e5).rounded() / 1e5 }, [1, 1, 1, 1])
        let partner = draw.permutation[0], l = Float(draw.lambda)
        XCTAssertEqual(mixed[0, 2, 3, 0], l * images[0, 2, 3, 0] + (1 - l) * images[partner, 2, 3, 0], accuracy: 1e-6)
        let (cut, cutTargets, cutDraw) = BatchMix.cutmix(alpha: 1).apply(images: images, targets: targets, using: &rng)
        let box = cutDraw.box!
        if box[2] > 0 && box[3] > 0 {
            XCTAssertEqual(cut[1, box[1], box[0], 0], images[cutDraw.permutation[1], box[1], box[0], 0])
        }
        XCTAssertEqual(Double(cutTargets.sum().scalar), 4, accuracy: 1e-5)
        XCTAssertEqual(cutDraw.lambda, 1 - Double(box[2] * box[3]) / 36, accuracy: 1e-9, "λ is the kept area")
    }
}
