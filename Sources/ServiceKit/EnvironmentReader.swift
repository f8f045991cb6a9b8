import Foundation

/// Reads configuration from environment variables, collecting every problem at once so that a
/// misconfigured process says everything that is wrong in one start-up error.
public struct EnvironmentReader: Sendable {
  public var values: [String: String]
  public private(set) var problems: [String] = []

  public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
    self.values = values
  }

  public func string(_ key: String, default fallback: String) -> String {
    guard let value = values[key], !value.isEmpty else { return fallback }
    return value
  }

  public func optionalString(_ key: String) -> String? {
    guard let value = values[key], !value.isEmpty else { return nil }
    return value
  }

  public mutating func int(_ key: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
    guard let raw = values[key], !raw.isEmpty else { return fallback }
    guard let value = Int(raw), range.contains(value) else {
      problems.append("\(key)=\(raw): expected a whole number in \(range.lowerBound)...\(range.upperBound)")
      return fallback
    }
    return value
  }

  /// A `host:port` listen or connect address.
  public mutating func address(_ key: String, default fallback: HostPort) -> HostPort {
    guard let raw = values[key], !raw.isEmpty else { return fallback }
    guard let parsed = HostPort(raw) else {
      problems.append("\(key)=\(raw): expected host:port, for example 127.0.0.1:7702")
      return fallback
    }
    return parsed
  }

  /// Records a problem found by the caller's own checks.
  public mutating func report(_ problem: String) {
    problems.append(problem)
  }

  /// Throws one error listing every problem found so far.
  public func validate() throws {
    if !problems.isEmpty { throw ConfigurationError(problems: problems) }
  }
}

public struct ConfigurationError: Error, CustomStringConvertible {
  public var problems: [String]
  public var description: String { "invalid configuration:\n  " + problems.joined(separator: "\n  ") }
}

/// A host and a TCP port.
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
  public var host: String
  public var port: Int

  public init(host: String, port: Int) {
    self.host = host
    self.port = port
  }

  public init?(_ text: String) {
    guard let colon = text.lastIndex(of: ":") else { return nil }
    var host = String(text[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
      return nil
    }
    self.host = host
    self.port = port
  }

  public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
