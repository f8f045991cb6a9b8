import Foundation
import GRPCCore
import JWTKit
import ServiceKit

/// Verifies the JWTs that shopper- and agent-facing apps send (`authorization: Bearer …`),
/// issued by the shop's identity provider and checked against its public keys (a JWKS file
/// the gateway re-reads when it changes, or the provider's JWKS URL): signature (EdDSA, ES256 or RS256 only), issuer,
/// audience, expiry and not-before with a small leeway.
///
/// Claims used: `sub` (the shopper or agent id), `role` (shopper, agent, supervisor or
/// service), `scope` (space-separated method patterns; absent means every method its role
/// may call).
struct TokenVerifier: Sendable {
  static let acceptedAlgorithms: Set<String> = ["EdDSA", "ES256", "RS256"]

  let keys: any SigningKeys
  let issuer: String
  let audience: String
  let leeway: TimeInterval

  struct Claims: JWTPayload {
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var sub: SubjectClaim?
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iat: IssuedAtClaim?
    var role: String?
    var scope: String?

    // Checked in `verify(_:)` with the configured issuer, audience and leeway.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
  }

  /// The usable keys of a JWKS document. A key this gateway cannot use (no `kid`, a symmetric
  /// `oct` key, an algorithm other than EdDSA, ES256 or RS256) is skipped, not fatal: tokens
  /// signed with it are refused one by one. A document with no usable key is an error.
  static func loadKeys(_ data: Data) async throws -> JWTKeyCollection {
    guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
      let entries = document["keys"] as? [Any]
    else { throw ReloadError("not a JWKS document (a JSON object with \"keys\")") }
    let keys = JWTKeyCollection()
    var usable = 0
    for entry in entries {
      guard let object = entry as? [String: Any], object["kid"] is String, Self.usableKind(object),
        let single = try? JSONSerialization.data(withJSONObject: ["keys": [object]]),
        let jwks = try? JSONDecoder().decode(JWKS.self, from: single),
        (try? await keys.add(jwks: jwks)) != nil
      else { continue }
      usable += 1
    }
    guard usable > 0 else { throw ReloadError("the JWKS has no usable key (EdDSA, ES256 or RS256, each with a kid)") }
    return keys
  }

  /// Whether a JWK is of a kind this gateway verifies with: an Ed25519 (OKP), P-256 (EC) or RSA
  /// key whose `alg`, when given, is EdDSA, ES256 or RS256. jwt-kit would also load ES384,
  /// RS512, PS256 or RSA-OAEP keys, which no accepted token can use.
  static func usableKind(_ key: [String: Any]) -> Bool {
    if let alg = key["alg"] as? String, !acceptedAlgorithms.contains(alg) { return false }
    switch (key["kty"] as? String, key["crv"] as? String) {
    case ("OKP", "Ed25519"), ("EC", "P-256"), ("RSA", nil): return true
    default: return false
    }
  }

  /// Tokens verified in the last minute (an app repeats its token on every call; a signature
  /// check costs far more than the call's own work), each under the key set that verified it:
  /// once the JWKS changes (a key removed), a token is verified again against the new set.
  let recent = RecentTokens()

  func verify(_ token: String, now: Date = Date()) async throws -> Caller {
    if let (caller, expiry) = recent.lookup(token, keySet: await keys.current, now: now) {
      guard expiry.timeIntervalSince(now) > -leeway else { throw Self.invalid("expired") }
      return caller
    }
    let (caller, expiry, keySet) = try await verifyUncached(token, now: now)
    recent.store(token, caller: caller, expiry: expiry, keySet: keySet, now: now)
    return caller
  }

  /// The caller a token names, its expiry, and the key set whose key verified it.
  private func verifyUncached(_ token: String, now: Date) async throws -> (Caller, Date, JWTKeyCollection) {
    let parts = token.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 3, let headerJSON = Base64URL.decode(parts[0]),
      let header = try? JSONSerialization.jsonObject(with: Data(headerJSON)) as? [String: Any]
    else { throw Self.invalid("not a JWT") }
    guard let algorithm = header["alg"] as? String, Self.acceptedAlgorithms.contains(algorithm) else {
      throw Self.invalid("algorithm \(header["alg"] ?? "none") is not accepted (EdDSA, ES256 or RS256)")
    }
    let claims: Claims
    var keySet = await keys.current
    do {
      claims = try await keySet.verify(token, as: Claims.self)
    } catch {
      // The provider may have rotated its keys: fetch them again (rate-limited) and retry once.
      guard await keys.refreshForUnknownKey() else { throw Self.invalid("signature not verified by any configured key") }
      keySet = await keys.current
      guard let retried = try? await keySet.verify(token, as: Claims.self) else {
        throw Self.invalid("signature not verified by any configured key")
      }
      claims = retried
    }
    guard claims.iss?.value == issuer else { throw Self.invalid("issuer is not \(issuer)") }
    guard let aud = claims.aud, aud.value.contains(audience) else { throw Self.invalid("audience does not include \(audience)") }
    guard let exp = claims.exp else { throw Self.invalid("no expiry (exp)") }
    guard exp.value.timeIntervalSince(now) > -leeway else { throw Self.invalid("expired") }
    if let nbf = claims.nbf, nbf.value.timeIntervalSince(now) > leeway { throw Self.invalid("not valid yet (nbf)") }
    guard let subject = claims.sub?.value, (1...Validate.maxIDLength).contains(subject.count) else {
      throw Self.invalid("no subject (sub)")
    }
    guard let roleName = claims.role, let role = Caller.Role(rawValue: roleName) else {
      throw Self.invalid("role must be one of shopper, agent, supervisor, service")
    }
    var scopes = ["*"]
    if let scope = claims.scope {
      scopes = scope.split(separator: " ").map(String.init)
      guard scopes.allSatisfy(Scope.isValid) else { throw Self.invalid("scope holds something that is not a method pattern") }
    }
    return (Caller(subject: subject, role: role, scopes: scopes), exp.value, keySet)
  }

  static func invalid(_ why: String) -> RPCError {
    RPCError(code: .unauthenticated, message: "invalid token: \(why)")
  }
}

/// Recently verified tokens, each kept for a minute at most and only while the key set that
/// verified it is the current one.
final class RecentTokens: Sendable {
  /// Each verdict holds the key set that verified it (a strong reference: compared by identity,
  /// a freed set's address cannot come back as a match).
  private let entries = RecentEntries<(caller: Caller, expiry: Date, keySet: JWTKeyCollection, verified: Date)>()
  static let keep: TimeInterval = 60

  func lookup(_ token: String, keySet: JWTKeyCollection, now: Date) -> (Caller, Date)? {
    guard let entry = entries.lookup(token), entry.keySet === keySet, now.timeIntervalSince(entry.verified) < Self.keep else { return nil }
    return (entry.caller, entry.expiry)
  }

  func store(_ token: String, caller: Caller, expiry: Date, keySet: JWTKeyCollection, now: Date) {
    entries.store(token, (caller, expiry, keySet, now))
  }
}
