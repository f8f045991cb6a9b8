import Crypto
import Foundation
import GRPCCore
import Synchronization

/// The verified caller, as the gateway hands it to a backend: metadata
/// `x-supportmesh-caller: <base64url(JSON claims)>.<base64url(HMAC-SHA256)>`, keyed with the
/// secret the gateway and the services share (SUPPORTMESH_CALLER_SECRET_FILE).
///
/// The claims name the method the header was made for and expire after a few minutes, so a
/// header copied from one call cannot be replayed for another method or later. Backends accept
/// a caller only this way: a request body's `actor` is checked against it, never trusted alone.
public struct SignedCallerHeader: Sendable {
  public static let metadataKey = "x-supportmesh-caller"
  /// How long a header stays valid after it was made (clocks of one deployment, small skew).
  public static let lifetime: TimeInterval = 300

  let key: SymmetricKey
  /// Headers already made (gateway) or verified (services): a busy caller repeats the same one
  /// for a minute, so JSON and HMAC are paid once, not per call.
  private let signed = RecentEntries<(String, Caller, Double)>()
  private let verified = RecentEntries<(String, Caller, Double)>()

  public init(secret: [UInt8]) throws {
    guard secret.count >= 32 else { throw IdentityError("the caller secret must be at least 32 bytes") }
    key = SymmetricKey(data: secret)
  }

  /// A key for another use of the same shared secret (e.g. feedback's survey tokens), derived
  /// with HKDF-SHA256 and `purpose` as its info: outputs made with it are never valid caller
  /// headers, and a caller header is never a valid output of it.
  public func derivedKey(purpose: String) -> SymmetricKey {
    HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array(purpose.utf8), outputByteCount: 32)
  }

  /// Reads the secret from a file (hex or raw text; surrounding whitespace ignored).
  public init(secretFile path: String) throws {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw IdentityError("cannot read the caller secret file \(path)")
    }
    let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    try self.init(secret: Array(text.utf8))
  }

  struct Claims: Codable {
    var sub: String
    var role: Caller.Role
    var scp: [String]
    /// The fully qualified method the header is for.
    var mth: String
    /// Expiry, seconds since 1970.
    var exp: Int64
  }

  public func sign(_ caller: Caller, method: String, now: Date = Date()) -> String {
    let cacheKey = "\(caller.role.rawValue)|\(caller.subject)|\(caller.scopes.joined(separator: " "))|\(method)"
    // Reused while it has at least four of its five minutes left.
    if let (header, _, expiry) = signed.lookup(cacheKey), expiry - now.timeIntervalSince1970 > Self.lifetime - 60 {
      return header
    }
    let expiry = Int64(now.timeIntervalSince1970 + Self.lifetime)
    let claims = Claims(sub: caller.subject, role: caller.role, scp: caller.scopes, mth: method, exp: expiry)
    let payload = Base64URL.encode(Array((try? JSONEncoder().encode(claims)) ?? Data()))
    let mac = HMAC<SHA256>.authenticationCode(for: Array(payload.utf8), using: key)
    let header = payload + "." + Base64URL.encode(Array(mac))
    signed.store(cacheKey, (header, caller, Double(expiry)))
    return header
  }

  /// The caller named by `header` for `method`, or an UNAUTHENTICATED error saying why not.
  public func verify(_ header: String, method: String, now: Date = Date()) throws -> Caller {
    if let (madeFor, caller, expiry) = verified.lookup(header) {
      guard madeFor == method else { throw Self.rejected("made for another method") }
      guard expiry >= now.timeIntervalSince1970 else { throw Self.rejected("expired") }
      return caller
    }
    let (caller, expiry) = try verifyUncached(header, method: method, now: now)
    verified.store(header, (method, caller, expiry))
    return caller
  }

  private func verifyUncached(_ header: String, method: String, now: Date) throws -> (Caller, Double) {
    let parts = header.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 2, let mac = Base64URL.decode(parts[1]) else { throw Self.rejected("malformed") }
    guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(parts[0].utf8), using: key) else {
      throw Self.rejected("bad signature")
    }
    guard let json = Base64URL.decode(parts[0]), let claims = try? JSONDecoder().decode(Claims.self, from: Data(json)) else {
      throw Self.rejected("malformed")
    }
    guard claims.mth == method else { throw Self.rejected("made for another method") }
    guard Double(claims.exp) >= now.timeIntervalSince1970 else { throw Self.rejected("expired") }
    return (Caller(subject: claims.sub, role: claims.role, scopes: claims.scp), Double(claims.exp))
  }

  static func rejected(_ why: String) -> RPCError {
    RPCError(code: .unauthenticated, message: "caller identity rejected (\(why)): call through the gateway with credentials")
  }
}

/// A bounded map of recent results (signed headers, verified headers and tokens): emptied when
/// it reaches `capacity`, so it never grows without bound whatever callers send.
public final class RecentEntries<Value: Sendable>: Sendable {
  private let entries = Mutex<[String: Value]>([:])
  let capacity: Int

  public init(capacity: Int = 10_000) {
    self.capacity = capacity
  }

  public func lookup(_ key: String) -> Value? {
    entries.withLock { $0[key] }
  }

  public func store(_ key: String, _ value: Value) {
    entries.withLock { entries in
      if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
      entries[key] = value
    }
  }
}

public struct IdentityError: Error, CustomStringConvertible {
  public var description: String
  public init(_ description: String) { self.description = description }
}

/// Base64url without padding (RFC 4648 §5), as JWTs and JWKs use it.
public enum Base64URL {
  public static func encode(_ bytes: [UInt8]) -> String {
    Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
      .replacingOccurrences(of: "=", with: "")
  }

  public static func decode<S: StringProtocol>(_ text: S) -> [UInt8]? {
    var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    guard !base64.contains("=") else { return nil }
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64).map(Array.init)
  }
}
