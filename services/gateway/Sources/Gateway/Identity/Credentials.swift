import Crypto
import Foundation
import JWTKit
import ServiceKit

/// Development credentials and the operator's key commands, run as
/// `supportmesh-gateway <command>`:
///
///     credentials --dir DIR        make what a mesh needs to run securely, where missing:
///                                  caller-secret, api-keys.json + admin-api-key, and a
///                                  development identity provider (dev-jwt-key.json, jwks.json)
///     token --key FILE --sub ID --role ROLE [--scope "A B"] [--ttl SECONDS]
///           [--issuer ISS] [--audience AUD]
///                                  print a JWT signed with the development key
///     api-key --file FILE --id ID [--scopes "A B"] [--role ROLE]
///                                  add (or replace) a key in an API key file; prints the key.
///                                  The gateway picks the change up within a second or two.
public enum GatewayCommand {
  public static let devIssuer = "supportmesh-dev"
  public static let devAudience = "supportmesh"
  static let devKeyID = "dev-1"

  /// Runs a command; nil when `arguments` names none (the process then serves).
  public static func run(_ arguments: [String]) async -> Int32? {
    guard let command = arguments.first else { return nil }
    let options = Options(Array(arguments.dropFirst()))
    do {
      switch command {
      case "credentials":
        try makeCredentials(in: try options.required("dir"))
      case "token":
        let role = try options.required("role")
        guard let parsed = Caller.Role(rawValue: role) else { throw IdentityError("--role: one of shopper, agent, supervisor, service") }
        print(
          try await mintToken(
            keyFile: try options.required("key"), subject: try options.required("sub"), role: parsed,
            scope: options["scope"], ttl: TimeInterval(options["ttl"].flatMap(Int.init) ?? 3600),
            issuer: options["issuer"] ?? devIssuer, audience: options["audience"] ?? devAudience
          ))
      case "api-key":
        let role = Caller.Role(rawValue: options["role"] ?? "service")
        guard let role else { throw IdentityError("--role: one of shopper, agent, supervisor, service") }
        let scopes = (options["scopes"] ?? "*").split(separator: " ").map(String.init)
        print(try addAPIKey(file: try options.required("file"), id: try options.required("id"), role: role, scopes: scopes))
      default:
        throw IdentityError("unknown command \(command): credentials, token or api-key")
      }
      return 0
    } catch {
      FileHandle.standardError.write(Data("supportmesh-gateway \(command): \(error)\n".utf8))
      return 2
    }
  }

  struct Options {
    var values: [String: String] = [:]
    init(_ arguments: [String]) {
      var index = 0
      while index < arguments.count {
        let argument = arguments[index]
        if argument.hasPrefix("--"), index + 1 < arguments.count {
          values[String(argument.dropFirst(2))] = arguments[index + 1]
          index += 2
        } else {
          index += 1
        }
      }
    }
    subscript(name: String) -> String? { values[name] }
    func required(_ name: String) throws -> String {
      guard let value = values[name], !value.isEmpty else { throw IdentityError("--\(name) is required") }
      return value
    }
  }

  /// Creates each missing file in `dir` (mode 0700): nothing that exists is replaced, so a
  /// second run keeps the keys callers already hold.
  public static func makeCredentials(in dir: String) throws {
    let files = FileManager.default
    try files.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    func create(_ name: String, mode: Int, _ contents: () throws -> String) throws {
      let path = (dir as NSString).appendingPathComponent(name)
      guard !files.fileExists(atPath: path) else { return }
      guard files.createFile(atPath: path, contents: Data(try contents().utf8), attributes: [.posixPermissions: mode]) else {
        throw IdentityError("cannot write \(path)")
      }
    }
    try create("caller-secret", mode: 0o600) { randomHex(32) + "\n" }
    let keyPath = (dir as NSString).appendingPathComponent("api-keys.json")
    if !files.fileExists(atPath: keyPath) {
      let admin = APIKeyFile.make(id: "admin", role: .service, scopes: ["*"])
      try writeKeys(APIKeyFile(keys: [admin.entry]), to: keyPath)
      try create("admin-api-key", mode: 0o600) { admin.key + "\n" }
    }
    let privatePath = (dir as NSString).appendingPathComponent("dev-jwt-key.json")
    if !files.fileExists(atPath: privatePath) {
      let key = Curve25519.Signing.PrivateKey()
      let x = Base64URL.encode(Array(key.publicKey.rawRepresentation))
      let d = Base64URL.encode(Array(key.rawRepresentation))
      try create("dev-jwt-key.json", mode: 0o600) {
        #"{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","kid":"\#(devKeyID)","x":"\#(x)","d":"\#(d)"}"# + "\n"
      }
      let jwksPath = (dir as NSString).appendingPathComponent("jwks.json")
      try? files.removeItem(atPath: jwksPath)
      try create("jwks.json", mode: 0o644) {
        #"{"keys":[{"kty":"OKP","crv":"Ed25519","alg":"EdDSA","use":"sig","kid":"\#(devKeyID)","x":"\#(x)"}]}"# + "\n"
      }
    }
  }

  /// A JWT from the development identity provider (`dev-jwt-key.json`).
  public static func mintToken(
    keyFile: String, subject: String, role: Caller.Role, scope: String? = nil, ttl: TimeInterval = 3600,
    issuer: String = devIssuer, audience: String = devAudience, now: Date = Date()
  ) async throws -> String {
    guard let data = FileManager.default.contents(atPath: keyFile),
      let jwk = try JSONSerialization.jsonObject(with: data) as? [String: String], let d = jwk["d"]
    else { throw IdentityError("\(keyFile) is not a private Ed25519 JWK") }
    let keys = JWTKeyCollection()
    await keys.add(eddsa: try EdDSA.PrivateKey(d: d, curve: .ed25519), kid: JWKIdentifier(string: jwk["kid"] ?? devKeyID))
    let claims = TokenVerifier.Claims(
      iss: IssuerClaim(value: issuer), aud: AudienceClaim(value: [audience]), sub: SubjectClaim(value: subject),
      exp: ExpirationClaim(value: now.addingTimeInterval(ttl)), nbf: nil, iat: IssuedAtClaim(value: now),
      role: role.rawValue, scope: scope
    )
    return try await keys.sign(claims)
  }

  /// Adds a key with `id` to the file (replacing one with the same id) and returns the key.
  public static func addAPIKey(file: String, id: String, role: Caller.Role, scopes: [String]) throws -> String {
    guard APIKeyFile.isValidID(id) else { throw IdentityError("--id: use 1-64 of a-z, 0-9 and -") }
    for scope in scopes where !Scope.isValid(scope) { throw IdentityError("--scopes: \"\(scope)\" is not a method pattern") }
    var keys = APIKeyFile(keys: [])
    if let data = FileManager.default.contents(atPath: file) { keys = try APIKeyFile.parse(data) }
    let made = APIKeyFile.make(id: id, role: role, scopes: scopes)
    keys.keys.removeAll { $0.id == id }
    keys.keys.append(made.entry)
    try writeKeys(keys, to: file)
    return made.key
  }

  /// Writes beside the target and renames, so the gateway never reads half a file.
  static func writeKeys(_ keys: APIKeyFile, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let temporary = path + ".tmp"
    guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(keys), attributes: [.posixPermissions: 0o600]) else {
      throw IdentityError("cannot write \(temporary)")
    }
    guard rename(temporary, path) == 0 else { throw IdentityError("cannot replace \(path)") }
  }

  static func randomHex(_ count: Int) -> String {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }.joined()
  }
}
