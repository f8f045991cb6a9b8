// swift-tools-version:6.1
// Builds the two protoc plugins used by scripts/generate-protos.sh from the pinned packages.
// Never part of the main build or CI: the generated code is committed.
import PackageDescription

let package = Package(
  name: "protoc-plugins",
  dependencies: [
    .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
  ],
  targets: []
)
