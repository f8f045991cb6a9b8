import Crypto
import Foundation
import GRPCCore
import ServiceKit

/// Service credentials for internal platform teams: `smk_<id>_<secret>`, sent as
/// `x-api-key: …` or `authorization: Bearer smk_…`.
///
/// The gateway keeps only SHA-256 hashes, in a JSON file (SUPPORTMESH_API_KEYS_FILE) that it
/// re-reads when it changes: add a key, hand it out, remove the old one; no restart.
///
///     {"keys": [{"id": "orders", "sha256": "<hex>", "role": "service",
///                "scopes": ["support.tickets.v1.TicketService/*"]}]}
///
/// `role` defaults to service; `subject` (the caller's name in logs and actors) to the id.
struct APIKeyFile: Codable, Sendable {
  struct Entry: Codable, Sendable {
    var id: String
    var sha256: String
    var role: Caller.Role?
    var subject: String?
    var scopes: [String]
    var description: String?
  }
  var keys: [Entry]

  static let prefix = "smk_"

  static func parse(_ data: Data) throws -> APIKeyFile {
    let file = try JSONDecoder().decode(APIKeyFile.self, from: data)
    var seen = Set<String>()
    for entry in file.keys {
      guard isValidID(entry.id) else { throw ReloadError("key id \"\(entry.id)\": use 1-64 of a-z, 0-9 and -") }
      guard seen.insert(entry.id).inserted else { throw ReloadError("key id \"\(entry.id)\" appears twice") }
      guard entry.sha256.count == 64, entry.sha256.allSatisfy(\.isHexDigit) else { throw ReloadError("key \(entry.id): sha256 must be 64 hex digits") }
      for scope in entry.scopes where !Scope.isValid(scope) { throw ReloadError("key \(entry.id): scope \"\(scope)\" is not a method pattern") }
    }
    return file
  }

  static func isValidID(_ id: String) -> Bool {
    (1...64).contains(id.count) && id.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }
  }

  static func hash(_ key: String) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var hex = [UInt8]()
    hex.reserveCapacity(64)
    for byte in SHA256.hash(data: Array(key.utf8)) {
      hex.append(digits[Int(byte >> 4)])
      hex.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: hex, as: UTF8.self)
  }

  /// A new key for `id`: the text to hand out and the entry to store.
  static func make(id: String, role: Caller.Role, scopes: [String]) -> (key: String, entry: Entry) {
    var secret = [UInt8](repeating: 0, count: 32)
    var generator = SystemRandomNumberGenerator()
    for index in secret.indices { secret[index] = UInt8.random(in: .min ... .max, using: &generator) }
    let key = prefix + id + "_" + Base64URL.encode(secret)
    return (key, Entry(id: id, sha256: hash(key), role: role, subject: nil, scopes: scopes, description: nil))
  }

  /// The caller a presented key stands for; UNAUTHENTICATED for an unknown or wrong key.
  func caller(forKey key: String) throws -> Caller {
    let rest = key.dropFirst(Self.prefix.count)
    guard key.hasPrefix(Self.prefix), let separator = rest.firstIndex(of: "_"),
      let entry = keys.first(where: { $0.id == rest[..<separator] })
    else { throw RPCError(code: .unauthenticated, message: "invalid API key") }
    // Compare digests in constant time: the stored hash is public-ish, the key is not.
    let presented = Array(Self.hash(key).utf8)
    let stored = Array(entry.sha256.lowercased().utf8)
    var difference: UInt8 = presented.count == stored.count ? 0 : 1
    for (a, b) in zip(presented, stored) { difference |= a ^ b }
    guard difference == 0 else { throw RPCError(code: .unauthenticated, message: "invalid API key") }
    return Caller(subject: entry.subject ?? entry.id, role: entry.role ?? .service, scopes: entry.scopes)
  }
}
