// swift-tools-version:6.2
// SupportMesh: the service desk's gRPC microservices. Layout:
//   Sources/SupportCodec   generated contracts (proto/) + wire helpers shared by every process
//   Sources/ServiceKit     config, PostgreSQL, migrations, health, metrics, logging, lifecycle
//   services/NAME/         one folder per service: library (handlers, SQL, migrations) + executable
//   Tests/                 unit, kit and whole-mesh integration tests
import PackageDescription

let swiftSettings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let grpcCore: Target.Dependency = .product(name: "GRPCCore", package: "grpc-swift-2")
let grpcHTTP2: Target.Dependency = .product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")
let grpcProtobuf: Target.Dependency = .product(name: "GRPCProtobuf", package: "grpc-swift-protobuf")
let postgres: Target.Dependency = .product(name: "PostgresNIO", package: "postgres-nio")
let lifecycle: Target.Dependency = .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")
let protobuf: Target.Dependency = .product(name: "SwiftProtobuf", package: "swift-protobuf")

/// A service: its library (handlers, SQL, migrations) and its executable, both under services/NAME.
func service(_ name: String, library: String, executable: String, extra: [Target.Dependency] = []) -> [Target] {
  [
    .target(
      name: library,
      dependencies: ["SupportCodec", "ServiceKit", grpcCore, grpcProtobuf, protobuf, postgres, logging] + extra,
      path: "services/\(name)/Sources/\(library)",
      swiftSettings: swiftSettings
    ),
    .executableTarget(
      name: executable,
      dependencies: [.target(name: library), "ServiceKit"],
      path: "services/\(name)/Sources/\(executable)",
      swiftSettings: swiftSettings
    ),
  ]
}

let package = Package(
  name: "SupportMesh",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "supportmesh-chat", targets: ["supportmesh-chat"]),
    .executable(name: "supportmesh-tickets", targets: ["supportmesh-tickets"]),
    .executable(name: "supportmesh-logistics", targets: ["supportmesh-logistics"]),
    .executable(name: "supportmesh-feedback", targets: ["supportmesh-feedback"]),
    .executable(name: "supportmesh-gateway", targets: ["supportmesh-gateway"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2.git", exact: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", exact: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf.git", exact: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf.git", exact: "1.39.0"),
    .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
    .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
    .package(url: "https://github.com/apple/swift-metrics.git", exact: "2.13.0"),
    .package(url: "https://github.com/swift-server/swift-prometheus.git", exact: "2.4.1"),
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", exact: "2.28.1"),
    .package(url: "https://github.com/apple/swift-nio.git", exact: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-http2.git", exact: "1.46.0"),
    .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
    .package(url: "https://github.com/apple/swift-crypto.git", exact: "4.5.2"),
    .package(url: "https://github.com/vapor/jwt-kit.git", exact: "5.8.0"),
  ],
  targets: [
    .target(
      name: "SupportCodec",
      dependencies: [grpcCore, grpcProtobuf, protobuf],
      exclude: ["Generated/PROTO_CHECKSUM"],
      swiftSettings: swiftSettings
    ),
    .target(
      name: "ServiceKit",
      dependencies: [
        "SupportCodec", grpcCore, grpcHTTP2, grpcProtobuf, protobuf, postgres, lifecycle, logging,
        .product(name: "Metrics", package: "swift-metrics"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),
  ]
    + service("chat", library: "ChatService", executable: "supportmesh-chat")
    + service("tickets", library: "TicketsService", executable: "supportmesh-tickets")
    + service("logistics", library: "LogisticsService", executable: "supportmesh-logistics", extra: [lifecycle])
    + service("feedback", library: "FeedbackService", executable: "supportmesh-feedback", extra: [
      lifecycle, .product(name: "Crypto", package: "swift-crypto"), .product(name: "Metrics", package: "swift-metrics"),
      .product(name: "AsyncHTTPClient", package: "async-http-client"),
    ])
    + service("gateway", library: "Gateway", executable: "supportmesh-gateway", extra: [
      grpcHTTP2, lifecycle, .product(name: "JWTKit", package: "jwt-kit"),
      .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
      .product(name: "NIOHTTP2", package: "swift-nio-http2"), .product(name: "NIOHPACK", package: "swift-nio-http2"),
      .product(name: "Metrics", package: "swift-metrics"),
      .product(name: "AsyncHTTPClient", package: "async-http-client"),
    ])
    + [
      .target(
        name: "TestSupport",
        dependencies: ["ServiceKit", "SupportCodec", grpcCore],
        path: "Tests/TestSupport",
        swiftSettings: swiftSettings
      ),
      // The event backbone's benchmark (scripts/bench-events).
      .executableTarget(
        name: "supportmesh-eventbench",
        dependencies: ["ServiceKit", "SupportCodec", grpcCore, grpcHTTP2, postgres, logging],
        path: "Benchmarks/EventBench",
        swiftSettings: swiftSettings
      ),
      // The live chat streams' benchmark (scripts/bench-chat).
      .executableTarget(
        name: "supportmesh-chatbench",
        dependencies: ["SupportCodec", grpcCore, grpcHTTP2],
        path: "Benchmarks/ChatBench",
        swiftSettings: swiftSettings
      ),
      .testTarget(
        name: "SupportCodecTests",
        dependencies: ["SupportCodec", protobuf],
        swiftSettings: swiftSettings
      ),
      .testTarget(
        name: "ServiceKitTests",
        dependencies: ["ServiceKit", "SupportCodec", "TestSupport", grpcCore, grpcHTTP2, grpcProtobuf, protobuf, postgres, logging],
        swiftSettings: swiftSettings
      ),
      .testTarget(
        name: "GatewayTests",
        dependencies: ["Gateway", "ServiceKit", "SupportCodec", "TestSupport", grpcCore, grpcHTTP2, logging,
          .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
          .product(name: "Hummingbird", package: "hummingbird"),
        ],
        swiftSettings: swiftSettings
      ),
      .testTarget(
        name: "IntegrationTests",
        dependencies: [
          "SupportCodec", "TestSupport", "Gateway", "ServiceKit", "FeedbackService", grpcCore, grpcHTTP2, grpcProtobuf, protobuf, postgres, logging,
          .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
      ),
    ]
)
