// swift-tools-version: 6.0
// libFuzzer targets for the readers that take untrusted bytes. Not part of the main package
// or CI: `scripts/fuzz.sh TARGET SECONDS` builds one with -sanitize=fuzzer,address and runs it.
import PackageDescription

let package = Package(
    name: "GraftFuzz",
    dependencies: [.package(name: "Graft", path: "..")],
    targets: ["PNG", "JPEG", "HDF5", "CSV", "IDX"].map { name in
        .executableTarget(
            name: "Fuzz\(name)", dependencies: [.product(name: "Graft", package: "Graft")],
            swiftSettings: [.unsafeFlags(["-parse-as-library"])])
    },
    swiftLanguageModes: [.v5]
)
