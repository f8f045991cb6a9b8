import Foundation
import GRPCCore
import SupportCodec
import SwiftProtobuf
import TestSupport
import Testing

/// Every test here talks to the real executables through the gateway with a real gRPC client.
/// The suite starts the mesh once (./mesh run) and stops it at the end.
@Suite("Whole mesh", .wholeMesh, .serialized)
struct MeshTests {}

func uniqueID(_ prefix: String) -> String { "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())" }

func daysAgo(_ days: Double) -> Google_Protobuf_Timestamp {
  Google_Protobuf_Timestamp(date: Date().addingTimeInterval(-days * 86_400))
}
