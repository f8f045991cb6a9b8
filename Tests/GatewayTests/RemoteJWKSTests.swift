import Foundation
import GRPCCore
import Hummingbird
import Logging
import ServiceKit
import Synchronization
import Testing

@testable import Gateway

/// Tokens verified against the identity provider's JWKS URL, served here over real HTTP.
@Suite("Gateway JWKS from a URL")
struct RemoteJWKSTests {
  final class Shared<Value: Sendable>: Sendable {
    let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    var current: Value {
      get { value.withLock { $0 } }
      set { value.withLock { $0 = newValue } }
    }
  }

  /// Serves `document`'s current text at /jwks.json and gives `body` the URL.
  static func withJWKSServer(_ document: Shared<String>, _ body: @Sendable (String) async throws -> Void) async throws {
    let router = Router()
    router.get("/jwks.json") { _, _ -> Response in
      Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: document.current)))
    }
    let port = Shared<Int?>(nil)
    let app = Application(
      router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
      onServerRunning: { channel in port.current = channel.localAddress?.port }
    )
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask { try await app.runService() }
      while port.current == nil { try await Task.sleep(for: .milliseconds(10)) }
      try await body("http://127.0.0.1:\(port.current!)/jwks.json")
      group.cancelAll()
    }
  }

  /// A development identity provider in a temporary folder: its private key file and JWKS text.
  static func makeProvider() throws -> (keyFile: String, jwks: String) {
    let dir = NSTemporaryDirectory() + "jwks-test-\(UUID().uuidString.prefix(8))"
    try GatewayCommand.makeCredentials(in: dir)
    return (dir + "/dev-jwt-key.json", try String(contentsOfFile: dir + "/jwks.json", encoding: .utf8))
  }

  @Test("a JWKS keeps its usable keys when others are not usable (no kid, a symmetric key, another algorithm); none usable is refused")
  func unusableKeysAreSkipped() async throws {
    let provider = try Self.makeProvider()
    var document = try #require(try JSONSerialization.jsonObject(with: Data(provider.jwks.utf8)) as? [String: Any])
    var keys = try #require(document["keys"] as? [[String: Any]])
    var withoutKid = keys[0]
    withoutKid["kid"] = nil
    keys.insert(withoutKid, at: 0)
    keys.append(["kty": "oct", "kid": "hmac", "k": "c2VjcmV0", "alg": "HS256"])
    keys.append(["kty": "RSA", "kid": "enc", "alg": "RSA-OAEP-256", "n": "AQAB", "e": "AQAB"])
    document["keys"] = keys
    let file = NSTemporaryDirectory() + "jwks-mixed-\(UUID().uuidString.prefix(8)).json"
    try JSONSerialization.data(withJSONObject: document).write(to: URL(fileURLWithPath: file))
    let keyFile = try await ReloadingFile(path: file, logger: Logger(label: "test")) { try await TokenVerifier.loadKeys($0) }
    let verifier = TokenVerifier(keys: keyFile, issuer: GatewayCommand.devIssuer, audience: GatewayCommand.devAudience, leeway: 60)
    let token = try await GatewayCommand.mintToken(keyFile: provider.keyFile, subject: "agent-7", role: .agent)
    #expect(try await verifier.verify(token) == Caller(subject: "agent-7", role: .agent, scopes: ["*"]))
    let none = try JSONSerialization.data(withJSONObject: ["keys": [withoutKid, ["kty": "oct", "kid": "hmac", "k": "c2VjcmV0"]]])
    await #expect(throws: ReloadError.self) { try await TokenVerifier.loadKeys(none) }
    // Keys jwt-kit would load but no accepted token can use: another algorithm or curve.
    var otherAlgorithm = try #require(try JSONSerialization.jsonObject(with: Data(provider.jwks.utf8)) as? [String: Any])["keys"]
      .flatMap { $0 as? [[String: Any]] }?.first
    otherAlgorithm?["alg"] = "ES384"
    let p384: [String: Any] = ["kty": "EC", "crv": "P-384", "kid": "p384", "alg": "ES384", "x": "AQAB", "y": "AQAB"]
    let unusable = try JSONSerialization.data(withJSONObject: ["keys": [try #require(otherAlgorithm), p384]])
    await #expect(throws: ReloadError.self) { try await TokenVerifier.loadKeys(unusable) }
    #expect(!TokenVerifier.usableKind(p384) && TokenVerifier.usableKind(["kty": "RSA", "alg": "RS256"]))
    #expect(!TokenVerifier.usableKind(["kty": "RSA", "alg": "PS256"]) && TokenVerifier.usableKind(["kty": "OKP", "crv": "Ed25519"]))
  }

  @Test("a token verifies against the fetched keys; after the provider rotates its key, a token with the new key verifies too")
  func rotation() async throws {
    let first = try Self.makeProvider()
    let document = Shared(first.jwks)
    try await Self.withJWKSServer(document) { url in
      let keys = try await RemoteJWKS(url: url, logger: Logger(label: "test"), minimumPause: .zero)
      let verifier = TokenVerifier(keys: keys, issuer: GatewayCommand.devIssuer, audience: GatewayCommand.devAudience, leeway: 60)
      let token = try await GatewayCommand.mintToken(keyFile: first.keyFile, subject: "shopper-1", role: .shopper)
      #expect(try await verifier.verify(token) == Caller(subject: "shopper-1", role: .shopper, scopes: ["*"]))

      // Rotation: the provider publishes a new key (same kid name, new material) and signs with it.
      let second = try Self.makeProvider()
      document.current = second.jwks
      let rotated = try await GatewayCommand.mintToken(keyFile: second.keyFile, subject: "agent-7", role: .agent)
      #expect(try await verifier.verify(rotated).subject == "agent-7", "an unknown key makes the gateway fetch the set again")

      // A token from a key the provider never published stays refused.
      let stranger = try Self.makeProvider()
      let forged = try await GatewayCommand.mintToken(keyFile: stranger.keyFile, subject: "shopper-2", role: .shopper)
      await #expect(throws: RPCError.self) { try await verifier.verify(forged) }
    }
  }

  @Test("a JWKS URL that does not answer keeps the gateway from starting, saying why")
  func unreachable() async throws {
    await #expect(throws: ReloadError.self) {
      _ = try await RemoteJWKS(url: "http://127.0.0.1:1/jwks.json", logger: Logger(label: "test"), attempts: 1)
    }
  }
}
