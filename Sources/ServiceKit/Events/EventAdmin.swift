import Foundation
import Logging
import PostgresNIO

/// The operator's view of a consumer's parked events, as subcommands of every service
/// executable (with the service's own SUPPORTMESH_DATABASE_URL):
///
///     supportmesh-tickets events parked            list parked events, oldest first
///     supportmesh-tickets events retry EVENT_ID    ask the running consumer to retry one
///     supportmesh-tickets events retry --all       ... or every parked event
///
/// A retry is a request: the instance leading the subscription applies the event at its next
/// heartbeat (within seconds); on success the event leaves the list, on failure it stays with
/// the new error and attempt count. `./mesh events SERVICE …` runs the same against the mesh
/// `./mesh run` started.
public enum EventAdmin {
  public static let usage = """
    usage: supportmesh-SERVICE events parked
           supportmesh-SERVICE events retry EVENT_ID|--all
    (needs SUPPORTMESH_DATABASE_URL, the service's own database role)
    """

  /// Runs the subcommand `arguments` (after "events"); returns the exit status.
  public static func main(arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) async -> Int32 {
    guard let text = environment["SUPPORTMESH_DATABASE_URL"], let url = try? DatabaseURL(text) else {
      print(usage)
      return 2
    }
    let logger = Logger(label: "supportmesh.events")
    let client = PostgresClient(configuration: url.clientConfiguration(poolSize: 1), backgroundLogger: logger)
    return await withTaskGroup(of: Int32?.self) { group in
      group.addTask {
        await client.run()
        return nil
      }
      defer { group.cancelAll() }
      do {
        let database = Database(client: client, maxConnections: 1)
        let (status, output) = try await run(arguments: arguments, database: database, logger: logger)
        print(output)
        return status
      } catch {
        print("error: \(error)")
        return 1
      }
    }
  }

  /// The subcommand's exit status and output.
  public static func run(arguments: [String], database: Database, logger: Logger) async throws -> (Int32, String) {
    let consumes = try await database.withConnection(logger: logger) { connection in
      for try await exists in try await connection.query("SELECT to_regclass('event_parked') IS NOT NULL", logger: logger).decode(Bool.self) {
        return exists
      }
      return false
    }
    guard consumes else {
      return (arguments.first == "parked" ? 0 : 1, "this service has no event subscriptions (no event_parked table in its schema)\n0 parked")
    }
    switch arguments.first {
    case "parked":
      let rows = try await database.withConnection(logger: logger) { connection in
        var lines: [String] = []
        for try await (subscription, id, position, type, attempts, parkedAt, retry, error) in try await connection.query(
          """
          SELECT subscription, event_id::text, position, event_type, attempts, parked_at, retry_requested, last_error
          FROM event_parked ORDER BY parked_at, position
          """, logger: logger
        ).decode((String, String, Int64, String, Int, Date, Bool, String).self) {
          let stamp = ISO8601DateFormatter().string(from: parkedAt)
          lines.append("\(subscription)\t\(id)\t\(position)\t\(type)\t\(attempts)\t\(stamp)\t\(retry ? "retry requested" : "parked")\t\(error.replacingOccurrences(of: "\n", with: " "))")
        }
        return lines
      }
      let header = "subscription\tevent_id\tposition\ttype\tattempts\tparked_at\tstate\tlast_error"
      return (0, ([header] + rows).joined(separator: "\n") + "\n\(rows.count) parked")
    case "retry" where arguments.count == 2:
      let target = arguments[1]
      let count = try await database.withConnection(logger: logger) { connection -> Int in
        if target == "--all" {
          return try await connection.query("UPDATE event_parked SET retry_requested = true RETURNING 1", logger: logger).collect().count
        }
        guard let id = UUID(uuidString: target) else { return -1 }
        return try await connection.query(
          "UPDATE event_parked SET retry_requested = true WHERE event_id = \(id) RETURNING 1", logger: logger
        ).collect().count
      }
      if count < 0 { return (2, "not an event id: \(target)\n" + usage) }
      if count == 0 { return (1, "no parked event \(target)") }
      return (0, "retry requested for \(count) parked event(s); the running consumer applies them at its next heartbeat")
    default:
      return (2, usage)
    }
  }
}
