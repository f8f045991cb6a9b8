import GRPCCore
import NIOCore
import NIOHPACK
import NIOHTTP2
import ServiceKit

/// The few pieces of the gRPC-over-HTTP/2 protocol the relay speaks itself: statuses it
/// answers on its own (no credentials, no route, backend down), and reading the 5-byte
/// message prefixes of a request to enforce the message size limit. Everything else passes
/// through as the caller and the backend wrote it.
enum GRPCWire {
  /// Status names by code, as metrics and logs show them.
  static let codeNames = [
    "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",
    "PERMISSION_DENIED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
    "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
  ]

  static func codeName(_ code: Int) -> String {
    codeNames.indices.contains(code) ? codeNames[code] : "UNKNOWN"
  }

  /// The end of a call the relay answers itself: a trailers-only response when nothing was
  /// sent yet, else trailers after the backend's messages.
  static func status(_ code: RPCError.Code, _ message: String, requestID: String, trailersOnly: Bool) -> HPACKHeaders {
    var headers = HPACKHeaders()
    if trailersOnly {
      headers.add(name: ":status", value: "200")
      headers.add(name: "content-type", value: "application/grpc")
    }
    headers.add(name: "grpc-status", value: String(code.rawValue))
    headers.add(name: "grpc-message", value: percentEncoded(message))
    headers.add(name: RequestContext.requestIDKey, value: requestID)
    return headers
  }

  /// grpc-message is percent-encoded UTF-8 (printable ASCII other than % as is).
  static func percentEncoded(_ message: String) -> String {
    let hex = Array("0123456789ABCDEF".utf8)
    var bytes: [UInt8] = []
    bytes.reserveCapacity(message.utf8.count)
    for byte in message.utf8 {
      if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
        bytes.append(byte)
      } else {
        bytes += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// What a caller is told when the backend reset its stream instead of ending it with a
  /// status (the gRPC spec's mapping of RST_STREAM codes).
  static func status(forReset code: HTTP2ErrorCode, backend: String) -> (RPCError.Code, String) {
    switch code {
    case .refusedStream, .cancel:
      return (.unavailable, "the \(backend) service is unavailable, retry later")
    case .enhanceYourCalm:
      return (.resourceExhausted, "the \(backend) service is overloaded, retry later")
    default:
      return (.internalError, "the \(backend) service ended the call abnormally")
    }
  }

  static func parseTimeout(_ value: String) -> TimeAmount? {
    RequestContext.parseTimeout(value).map(TimeAmount.init)
  }
}

/// Follows the length-prefixed messages of one direction of a call across DATA frames
/// (a prefix may be split between frames) and reports the first message longer than the
/// limit, before any of it is passed on.
struct MessageSizeCheck {
  let limit: Int
  /// Bytes of the current message's body still to come.
  private var bodyLeft = 0
  /// The prefix bytes read so far of the next message (at most 5).
  private var prefix: [UInt8] = []

  init(limit: Int) {
    self.limit = limit
  }

  /// The length of the first oversize message this frame starts, or nil when all is well.
  mutating func oversize(in data: IOData) -> Int? {
    guard case .byteBuffer(let buffer) = data else { return nil }
    var index = buffer.readerIndex
    let end = buffer.writerIndex
    while index < end {
      if bodyLeft > 0 {
        let step = min(bodyLeft, end - index)
        bodyLeft -= step
        index += step
        continue
      }
      let take = min(5 - prefix.count, end - index)
      prefix += buffer.getBytes(at: index, length: take) ?? []
      index += take
      if prefix.count == 5 {
        let length = Int(prefix[1]) << 24 | Int(prefix[2]) << 16 | Int(prefix[3]) << 8 | Int(prefix[4])
        prefix.removeAll(keepingCapacity: true)
        if length > limit { return length }
        bodyLeft = length
      }
    }
    return nil
  }
}
