import Engine
import Foundation

// Deterministic geometric and colour transforms of images (the augmentation ops build on these).

extension Image {
    /// A new image of the given size whose pixel (y, x, c) is `body(y, x, c)`.
    public static func generate(width: Int, height: Int, channels: Int, _ body: (Int, Int, Int) -> Float) -> Image {
        var data = [Float](repeating: 0, count: width * height * channels)
        var i = 0
        for y in 0..<height { for x in 0..<width { for c in 0..<channels { data[i] = body(y, x, c); i += 1 } } }
        return Image(width: width, height: height, channels: channels, data: data)
    }

    /// Mirror left-right.
    public func flippedHorizontally() -> Image { .generate(width: width, height: height, channels: channels) { self[$0, width - 1 - $1, $2] } }

    /// Mirror top-bottom.
    public func flippedVertically() -> Image { .generate(width: width, height: height, channels: channels) { self[height - 1 - $0, $1, $2] } }

    /// Rotated by 90 degrees counter-clockwise `quarterTurns` times (negative: clockwise).
    public func rotated90(_ quarterTurns: Int) -> Image {
        switch ((quarterTurns % 4) + 4) % 4 {
        case 1: return .generate(width: height, height: width, channels: channels) { self[$1, width - 1 - $0, $2] }
        case 2: return .generate(width: width, height: height, channels: channels) { self[height - 1 - $0, width - 1 - $1, $2] }
        case 3: return .generate(width: height, height: width, channels: channels) { self[height - 1 - $1, $0, $2] }
        default: return self
        }
    }

    /// Applies an EXIF orientation (1-8) so the image shows upright.
    public func oriented(_ orientation: Int) -> Image {
        switch orientation {
        case 2: return flippedHorizontally()
        case 3: return rotated90(2)
        case 4: return flippedVertically()
        case 5: return rotated90(-1).flippedHorizontally()   // transpose
        case 6: return rotated90(-1)                         // rotate 90 clockwise
        case 7: return rotated90(1).flippedHorizontally()    // transverse
        case 8: return rotated90(1)                          // rotate 90 counter-clockwise
        default: return self
        }
    }

    /// The `width x height` window whose top-left corner is (`x`, `y`); parts outside the image
    /// are filled with `fill`.
    public func cropped(x: Int, y: Int, width w: Int, height h: Int, fill: Float = 0) -> Image {
        .generate(width: w, height: h, channels: channels) { yy, xx, c in
            let sy = y + yy, sx = x + xx
            return sy >= 0 && sy < height && sx >= 0 && sx < width ? self[sy, sx, c] : fill
        }
    }

    /// The central `width x height` window.
    public func centreCropped(width w: Int, height h: Int) -> Image {
        cropped(x: (width - w) / 2, y: (height - h) / 2, width: w, height: h)
    }

    /// Padded by the given margins with `fill`.
    public func padded(top: Int, bottom: Int, left: Int, right: Int, fill: Float = 0) -> Image {
        cropped(x: -left, y: -top, width: width + left + right, height: height + top + bottom, fill: fill)
    }

    /// Resized to `width x height`: bilinear (pixel centres aligned, as Pillow and OpenCV)
    /// when enlarging, area averaging when shrinking an axis (no aliasing).
    public func resized(width w: Int, height h: Int) -> Image {
        ensure(w > 0 && h > 0, "resize: target \(w)x\(h) must be positive")
        if w == width && h == height { return self }
        // Separable: resample rows (x) then columns (y), each with its own filter.
        let horizontal = Image.resample(self, newWidth: w)
        return Image.resample(horizontal.transposedAxes(), newWidth: h).transposedAxes()
    }

    /// Swaps x and y.
    func transposedAxes() -> Image { .generate(width: height, height: width, channels: channels) { self[$1, $0, $2] } }

    /// Resamples the x axis to `newWidth`.
    static func resample(_ image: Image, newWidth: Int) -> Image {
        let taps = ResampleTaps(from: image.width, to: newWidth).taps
        return .generate(width: newWidth, height: image.height, channels: image.channels) { y, x, c in
            taps[x].reduce(0) { $0 + $1.1 * image[y, $1.0, c] }
        }
    }

    /// One grey channel (ITU-R 601 luma, as Pillow's "L": 0.299 R + 0.587 G + 0.114 B).
    public func greyscale() -> Image {
        guard channels == 3 else { return self }
        return .generate(width: width, height: height, channels: 1) { y, x, _ in
            0.299 * self[y, x, 0] + 0.587 * self[y, x, 1] + 0.114 * self[y, x, 2]
        }
    }

    /// Three channels (grey repeated).
    public func rgb() -> Image {
        guard channels == 1 else { return self }
        return .generate(width: width, height: height, channels: 3) { y, x, _ in self[y, x, 0] }
    }

    /// With `channels` channels (1 or 3).
    public func converted(toChannels n: Int) -> Image { n == 1 ? greyscale() : rgb() }
}

extension Tensor {
    /// A batch of images as a model's input: converted to the model's channel count and
    /// order, each channel `(x - mean) / std`. All images must share one size.
    public static func batch(_ images: [Image], mean: [Float], std: [Float], channelOrder: String = "RGB") -> Tensor {
        ensure(!images.isEmpty, "Tensor.batch: no images")
        let channels = mean.count
        ensure(std.count == channels && (channels == 1 || channels == 3), "Tensor.batch: mean \(mean) and std \(std) must both have 1 or 3 values")
        let (h, w) = (images[0].height, images[0].width)
        let sources = (0..<channels).map { channelOrder == "BGR" ? channels - 1 - $0 : $0 }
        let scale = std.map { 1 / $0 }
        return Tensor(shape: [images.count, h, w, channels]) { out in
            for (n, image) in images.enumerated() {
                ensure(image.height == h && image.width == w, "Tensor.batch: image \(n) is \(image.width)x\(image.height), the first \(w)x\(h); resize first")
                let converted = image.channels == channels ? image : image.converted(toChannels: channels)
                converted.data.withUnsafeBufferPointer { data in
                    let base = n * h * w * channels
                    for p in 0..<(h * w) {
                        for c in 0..<channels {
                            out[base + p * channels + c] = (data[p * channels + sources[c]] - mean[c]) * scale[c]
                        }
                    }
                }
            }
        }
    }
}
