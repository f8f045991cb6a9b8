import GRPCCore
import NIOCore
import NIOHPACK
import ServiceKit

/// Who the credentials of a call stand for, decided once and then kept for a second.
///
/// A busy caller sends the same key or token on every call; with the verdict at hand the
/// relay decides on the event loop, without a hop to a task. Only the first call of a second
/// (per credential) waits for verification (a keys-file check, a signature). A second, so a
/// key removed from the keys file (re-read at most once a second) or an expired token stops
/// working within about two seconds.
final class CallerVerdicts: Sendable {
  let authenticator: GatewayAuthenticator?
  private let recent = RecentEntries<(caller: Caller, until: NIODeadline)>()
  static let keep = TimeAmount.seconds(1)

  init(authenticator: GatewayAuthenticator?) {
    self.authenticator = authenticator
  }

  static func credentials(in headers: HPACKHeaders) -> GatewayAuthenticator.Credentials {
    GatewayAuthenticator.Credentials(apiKey: headers.first(name: "x-api-key"), authorization: headers.first(name: "authorization"))
  }

  /// The caller, when these credentials were verified within the last second.
  func cached(_ credentials: GatewayAuthenticator.Credentials) -> Caller? {
    guard let key = credentials.cacheKey, let entry = recent.lookup(key), entry.until > .now() else { return nil }
    return entry.caller
  }

  /// Verifies the credentials (UNAUTHENTICATED when missing or bad) and keeps the verdict.
  func verify(_ credentials: GatewayAuthenticator.Credentials) async throws -> Caller {
    guard let authenticator else {
      throw RPCError(code: .unauthenticated, message: "this gateway accepts no credentials")
    }
    let caller = try await authenticator.identify(credentials)
    if let key = credentials.cacheKey { recent.store(key, (caller, .now() + Self.keep)) }
    return caller
  }
}
