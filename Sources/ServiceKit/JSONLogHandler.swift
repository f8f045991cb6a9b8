import Foundation
import Logging

/// One JSON object per line on stderr: time, level, service, message and every metadata field
/// (request_id, rpc, …), ready for any log shipper.
public struct JSONLogHandler: LogHandler {
  public var metadata: Logger.Metadata = [:]
  public var logLevel: Logger.Level = .info
  let label: String
  let service: String
  static let timeFormat = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

  public init(label: String, service: String) {
    self.label = label
    self.service = service
  }

  public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }

  public func log(event: LogEvent) {
    var fields: [String: String] = [
      "time": Date().formatted(Self.timeFormat),
      "level": event.level.rawValue, "service": service, "logger": label, "msg": event.message.description,
    ]
    for (key, value) in self.metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) {
      fields[key] = "\(value)"
    }
    if let error = event.error { fields["error"] = "\(error)" }
    let data = (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
    FileHandle.standardError.write(data + Data([0x0A]))
  }
}

public enum LogSetup {
  /// Bootstraps swift-log once per process.
  public static func bootstrap(service: String, level: Logger.Level, json: Bool) {
    LoggingSystem.bootstrap { label in
      var handler: any LogHandler = json ? JSONLogHandler(label: label, service: service) : StreamLogHandler.standardError(label: label)
      handler.logLevel = level
      return handler
    }
  }
}
