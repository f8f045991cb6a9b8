import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore
import Synchronization

/// The identity provider's public keys the gateway verifies JWTs with: a JWKS file
/// (SUPPORTMESH_JWKS_FILE, re-read when it changes) or the provider's JWKS URL
/// (SUPPORTMESH_JWKS_URL, fetched again every few minutes and when a token names a key id
/// the set does not hold yet, as providers do when they rotate keys).
protocol SigningKeys: Sendable {
  var current: JWTKeyCollection { get async }
  /// A token was signed by no key of the set: fetch the set again if the source can (at most
  /// every 30 s). True when the keys changed.
  func refreshForUnknownKey() async -> Bool
}

extension ReloadingFile: SigningKeys where Value == JWTKeyCollection {
  /// A file is re-read when it changes anyway.
  func refreshForUnknownKey() async -> Bool { false }
}

/// A JWKS served by the identity provider over HTTP(S).
final class RemoteJWKS: SigningKeys {
  let url: String
  private let logger: Logger
  private struct State {
    var keys: JWTKeyCollection
    var fetched: ContinuousClock.Instant
    var lastAttempt: ContinuousClock.Instant
    var fetching = false
  }
  private let state: Mutex<State>

  /// How old the keys may get before the next use fetches them again.
  static let maximumAge = Duration.seconds(300)
  /// The shortest pause between fetches a token with an unknown key may cause (30 s).
  let minimumPause: Duration
  static let largestDocument = 1 << 20

  /// Fetches the keys once; the gateway does not start without them (a few attempts first, the
  /// provider may be starting too).
  init(url: String, logger: Logger, attempts: Int = 5, minimumPause: Duration = .seconds(30)) async throws {
    self.url = url
    self.logger = logger
    self.minimumPause = minimumPause
    var attempt = 0
    while true {
      attempt += 1
      do {
        let keys = try await Self.fetch(url)
        state = Mutex(State(keys: keys, fetched: .now, lastAttempt: .now))
        return
      } catch {
        if attempt >= attempts { throw ReloadError("cannot fetch the JWKS from \(url): \(error)") }
        logger.warning("JWKS not available yet, retrying", metadata: ["url": "\(url)", "attempt": "\(attempt)", "error": "\(error)"])
        try await Task.sleep(for: .seconds(2))
      }
    }
  }

  var current: JWTKeyCollection {
    get async {
      let (keys, due) = state.withLock { state in
        (state.keys, ContinuousClock.now - state.fetched >= Self.maximumAge)
      }
      if due { _ = await refresh(force: false) }
      return due ? state.withLock { $0.keys } : keys
    }
  }

  func refreshForUnknownKey() async -> Bool {
    await refresh(force: true)
  }

  /// One fetch at a time; a failed fetch keeps the keys in force (logged), so a provider's
  /// outage does not lock every caller out at once.
  private func refresh(force: Bool) async -> Bool {
    let go = state.withLock { state -> Bool in
      let now = ContinuousClock.now
      guard !state.fetching, now - state.lastAttempt >= (force ? minimumPause : .seconds(5)) else { return false }
      state.fetching = true
      state.lastAttempt = now
      return true
    }
    guard go else { return false }
    do {
      let keys = try await Self.fetch(url)
      state.withLock { state in
        state.keys = keys
        state.fetched = .now
        state.fetching = false
      }
      logger.notice("JWKS fetched", metadata: ["url": "\(url)"])
      return true
    } catch {
      state.withLock { $0.fetching = false }
      logger.error("JWKS fetch failed; keeping the keys in force", metadata: ["url": "\(url)", "error": "\(error)"])
      return false
    }
  }

  static func fetch(_ url: String) async throws -> JWTKeyCollection {
    var request = HTTPClientRequest(url: url)
    request.headers.add(name: "accept", value: "application/json")
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(5))
    guard response.status == .ok else { throw ReloadError("HTTP \(response.status.code)") }
    let body = try await response.body.collect(upTo: largestDocument)
    return try await TokenVerifier.loadKeys(Data(body.readableBytesView))
  }
}
