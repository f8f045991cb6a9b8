import Foundation
import Logging
import Synchronization

/// A configuration file the gateway re-reads when it changes (API keys, JWKS), so credentials
/// rotate without a restart. Checked at most once a second, on use; a file that no longer
/// parses is logged and the last good content stays in force.
final class ReloadingFile<Value: Sendable>: Sendable {
  let path: String
  private let parse: @Sendable (Data) async throws -> Value
  private let logger: Logger
  private struct State {
    var value: Value
    var stamp: Stamp
    var checked: ContinuousClock.Instant
  }
  private struct Stamp: Equatable {
    var modified: Date
    var size: Int
  }
  private let state: Mutex<State>

  /// Reads and parses the file once; a missing or invalid file is an error at start.
  init(path: String, logger: Logger, parse: @escaping @Sendable (Data) async throws -> Value) async throws {
    self.path = path
    self.parse = parse
    self.logger = logger
    guard let data = FileManager.default.contents(atPath: path) else { throw ReloadError("cannot read \(path)") }
    let value = try await parse(data)
    state = Mutex(State(value: value, stamp: Self.stamp(path) ?? Stamp(modified: .distantPast, size: -1), checked: .now))
  }

  var current: Value {
    get async {
      let now = ContinuousClock.now
      let due: Stamp? = state.withLock { state in
        guard now - state.checked >= .seconds(1) else { return nil }
        state.checked = now
        guard let stamp = Self.stamp(path), stamp != state.stamp else { return nil }
        return stamp
      }
      if let stamp = due { await reload(stamp) }
      return state.withLock { $0.value }
    }
  }

  private func reload(_ stamp: Stamp) async {
    do {
      guard let data = FileManager.default.contents(atPath: path) else { throw ReloadError("cannot read \(path)") }
      let value = try await parse(data)
      state.withLock { $0.value = value; $0.stamp = stamp }
      logger.notice("reloaded", metadata: ["file": "\(path)"])
    } catch {
      // Keep serving with the last good content; say why the new one was refused.
      state.withLock { $0.stamp = stamp }
      logger.error("file changed but could not be used; keeping the previous content", metadata: ["file": "\(path)", "error": "\(error)"])
    }
  }

  private static func stamp(_ path: String) -> Stamp? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
      let modified = attributes[.modificationDate] as? Date, let size = attributes[.size] as? Int
    else { return nil }
    return Stamp(modified: modified, size: size)
  }
}

struct ReloadError: Error, CustomStringConvertible {
  var description: String
  init(_ description: String) { self.description = description }
}
