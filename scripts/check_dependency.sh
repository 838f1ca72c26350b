#!/usr/bin/env bash
# Graft as a dependency, the way users take it: a temporary clone of this repository's
# committed state is tagged 0.1.0, a fresh package depends on it *by version* through a
# file:// URL, and builds the README's library example (Examples/LibraryExample/main.swift,
# verbatim) in debug and in release; each build runs it on a small folder of images and
# must print the feature shape. SwiftPM refuses unsafe build flags in such a dependency, so
# this fails if Package.swift ever uses them in a library target.
#   bash scripts/check_dependency.sh [COMMIT]   (default: HEAD)
set -euo pipefail
ref=${1:-HEAD}
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

git clone --quiet "$repo" "$work/graft"
git -C "$work/graft" checkout --quiet "$ref"
git -C "$work/graft" -c user.name=check -c user.email=check@localhost tag 0.1.0

mkdir -p "$work/app/Sources/App"
cat > "$work/app/Package.swift" <<SWIFT
// swift-tools-version: 6.0
import PackageDescription

let package = Package(
    name: "App",
    dependencies: [.package(url: "file://$work/graft", from: "0.1.0")],
    targets: [.executableTarget(name: "App", dependencies: [.product(name: "Graft", package: "graft")])],
    swiftLanguageModes: [.v5]
)
SWIFT
cp Examples/LibraryExample/main.swift "$work/app/Sources/App/main.swift"

# A few images in two classes (the Vision fixtures).
for class in a b; do mkdir -p "$work/app/photos/$class"; done
cp Tests/VisionTests/Fixtures/images/png_rgb8.png Tests/VisionTests/Fixtures/images/png_rgba8.png "$work/app/photos/a/"
cp Tests/VisionTests/Fixtures/images/jpeg_rgb420.jpg Tests/VisionTests/Fixtures/images/png_palette8_colour.png "$work/app/photos/b/"

for configuration in debug release; do
  echo "== building the dependent package ($configuration) against graft 0.1.0"
  swift build --package-path "$work/app" -c "$configuration" 2>&1 | tail -3
  output=$(cd "$work/app" && "$(swift build --package-path "$work/app" -c "$configuration" --show-bin-path)/App")
  echo "$output"
  case "$output" in
    "stage3 features [4, 256] for 4 images of 2 classes") ;;
    *) echo "FAIL: unexpected output from the $configuration build"; exit 1 ;;
  esac
done
echo "ok: a package depending on Graft 0.1.0 builds in debug and release and extracts features"
