import Foundation
import GRPCCore
import NIOCore
import NIOPosix
import ServiceKit
import Synchronization
import Testing

@testable import Gateway

/// The relay's drain against a caller that keeps sending after the drain's first GOAWAY: a
/// plain TCP client writing HTTP/2 frames by hand, since a real HTTP/2 client stops opening
/// streams once it read the GOAWAY (the race this stands for is a stream sent just before).
@Suite("Gateway drain race")
struct DrainRaceTests {
  @Test("a stream that crosses the drain's first GOAWAY is served, and the call in flight finishes")
  func streamCrossingGoAway() async throws {
    let store = HealthStatusStore(names: ["a"], initial: .serving)
    try await ForwardingTests.withHop(store) { _, relay in
      let port = try #require(relay.listeningAddress?.port)
      let wire = try await RawHTTP2.connect(port: port)
      defer { wire.close() }
      wire.send(RawHTTP2.preface + RawHTTP2.frame(type: 4, flags: 0, stream: 0, []) + RawHTTP2.frame(type: 4, flags: 1, stream: 0, []))
      // Stream 1: a Health/Watch that stays in flight across the drain.
      wire.send(RawHTTP2.call(stream: 1, method: "/grpc.health.v1.Health/Watch", service: "a"))
      try await wire.waitFor { $0.contains { $0.type == 0 && $0.stream == 1 } }

      relay.beginGracefulShutdown()
      try await wire.waitFor { $0.contains { $0.type == 7 } }
      // Stream 3, as sent by a caller that had not read the GOAWAY yet.
      wire.send(RawHTTP2.call(stream: 3, method: "/grpc.health.v1.Health/Check", service: "a"))
      try await wire.waitFor { $0.contains { $0.type == 1 && $0.stream == 3 && $0.flags & 1 != 0 } }

      // The watch goes on: the next status reaches it, then it ends with its trailers.
      store.set("a", .notServing)
      try await wire.waitFor { $0.filter { $0.type == 0 && $0.stream == 1 }.count >= 2 }
      store.shutdown()
      try await wire.waitFor { $0.contains { $0.type == 1 && $0.stream == 1 && $0.flags & 1 != 0 } }

      let frames = wire.frames
      let goAwayErrors = frames.filter { $0.type == 7 }.map { $0.payload.count >= 8 ? Array($0.payload[4..<8]) : [] }
      #expect(goAwayErrors.allSatisfy { $0 == [0, 0, 0, 0] }, "every GOAWAY is NO_ERROR: \(goAwayErrors)")
      #expect(!frames.contains { $0.type == 3 }, "no stream was reset")
    }
  }
}

/// HTTP/2 frames written and read by hand over a plain TCP connection.
final class RawHTTP2: Sendable {
  struct Frame: Sendable {
    var type: UInt8
    var flags: UInt8
    var stream: UInt32
    var payload: [UInt8]
  }

  static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

  static func frame(type: UInt8, flags: UInt8, stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
    let length = payload.count
    return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags,
      UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)] + payload
  }

  /// HEADERS (HPACK literals without indexing) and a DATA frame with one gRPC message, a
  /// HealthCheckRequest naming `service`, ending the request.
  static func call(stream: UInt32, method: String, service: String) -> [UInt8] {
    let headers = [
      (":method", "POST"), (":scheme", "http"), (":path", method), (":authority", "127.0.0.1"),
      ("content-type", "application/grpc"), ("te", "trailers"),
    ]
    var block: [UInt8] = []
    for (name, value) in headers {
      block += [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
    }
    let message: [UInt8] = [0x0A, UInt8(service.utf8.count)] + Array(service.utf8)
    let data: [UInt8] = [0, 0, 0, 0, UInt8(message.count)] + message
    return frame(type: 1, flags: 4, stream: stream, block) + frame(type: 0, flags: 1, stream: stream, data)
  }

  private final class Collector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let bytes = Mutex<[UInt8]>([])
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
      let buffer = unwrapInboundIn(data)
      bytes.withLock { $0 += buffer.readableBytesView }
    }
  }

  private let channel: any Channel
  private let collector: Collector

  private init(channel: any Channel, collector: Collector) {
    self.channel = channel
    self.collector = collector
  }

  static func connect(port: Int) async throws -> RawHTTP2 {
    let collector = Collector()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
      .channelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
      }
      .connect(host: "127.0.0.1", port: port).get()
    return RawHTTP2(channel: channel, collector: collector)
  }

  func send(_ bytes: [UInt8]) {
    channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
  }

  func close() {
    channel.close(promise: nil)
  }

  /// The frames received so far.
  var frames: [Frame] {
    let bytes = collector.bytes.withLock { $0 }
    var frames: [Frame] = []
    var at = 0
    while bytes.count - at >= 9 {
      let length = Int(bytes[at]) << 16 | Int(bytes[at + 1]) << 8 | Int(bytes[at + 2])
      guard bytes.count - at - 9 >= length else { break }
      let stream = UInt32(bytes[at + 5] & 0x7F) << 24 | UInt32(bytes[at + 6]) << 16 | UInt32(bytes[at + 7]) << 8 | UInt32(bytes[at + 8])
      frames.append(Frame(type: bytes[at + 3], flags: bytes[at + 4], stream: stream, payload: Array(bytes[(at + 9)..<(at + 9 + length)])))
      at += 9 + length
    }
    return frames
  }

  /// Waits (up to 10 s) until the frames received satisfy `condition`.
  func waitFor(_ condition: ([Frame]) -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    let deadline = ContinuousClock.now + .seconds(10)
    while !condition(frames) {
      guard ContinuousClock.now < deadline else {
        Issue.record("frames received: \(frames.map { "type \($0.type) flags \($0.flags) stream \($0.stream) \($0.payload.prefix(8))" })", sourceLocation: sourceLocation)
        throw CancellationError()
      }
      try await Task.sleep(for: .milliseconds(10))
    }
  }
}
