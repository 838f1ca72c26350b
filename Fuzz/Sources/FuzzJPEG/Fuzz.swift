import Graft

/// JPEG bytes through the decoder (EXIF parser, CMYK, scaled decoding).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if !bytes.starts(with: [0xFF, 0xD8, 0xFF]) { bytes = [0xFF, 0xD8, 0xFF] + bytes }
    let decoder = ImageDecoder(maxPixels: 4_000_000)
    _ = try? decoder.decode(bytes)
    _ = try? decoder.decode(bytes, fitting: (9, 6))
    return 0
}

// SwiftPM links an executable's entry point as `FuzzJPEG_main`: hand it to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt
) -> CInt

@_cdecl("FuzzJPEG_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return runDriver(&argc, &argv, fuzz)
}
