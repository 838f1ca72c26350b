// Decodes every PNG and JPEG under a folder (default: openclipart-png's food folder) and
// reports what decoded and what was refused, with the reason.
//
//   apt-get install openclipart-png
//   swift run -c release DecodeCheck [FOLDER] [--max-pixels N]
import Foundation
import Engine
import Vision

var arguments = Array(CommandLine.arguments.dropFirst())
var decoder = ImageDecoder()
if let i = arguments.firstIndex(of: "--max-pixels"), i + 1 < arguments.count, let n = Int(arguments[i + 1]) {
    decoder.maxPixels = n
    arguments.removeSubrange(i...(i + 1))
}
let folder = arguments.first ?? "/usr/share/openclipart/png/food"
guard let walker = FileManager.default.enumerator(atPath: folder) else {
    print("error: \(folder): no such folder (install openclipart-png?)")
    exit(1)
}
let files = walker.compactMap { $0 as? String }.filter { ["png", "jpg", "jpeg"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
var decoded = 0, refused: [(String, String)] = [], pixels = 0, grey = 0
let start = Date()
for file in files {
    do {
        let image = try decoder.decode(contentsOf: folder + "/" + file)
        decoded += 1
        pixels += image.width * image.height
        if image.channels == 1 { grey += 1 }
    } catch {
        refused.append((file, "\(error)"))
    }
}
print("\(folder): \(files.count) files, \(decoded) decoded (\(grey) grey), \(refused.count) refused, \(pixels / 1_000_000) megapixels in \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
for (file, reason) in refused { print("  refused \(file): \(reason)") }
