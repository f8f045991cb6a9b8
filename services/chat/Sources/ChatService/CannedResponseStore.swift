import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias CannedResponse = Support_Chat_V1_CannedResponse

/// All SQL of CannedResponseService (table `canned_responses`, migration 6). Writes run in one
/// transaction each; a deleted response keeps its row (`deleted_at`) and is invisible to
/// every read.
struct CannedResponseStore: Sendable {
  let database: Database

  static let errorDomain = ConversationHandlers.errorDomain

  enum CreateOutcome {
    case created(CannedResponse)
    case retried(CannedResponse)
  }

  /// Inserts a response, or returns the one first created with the same request id. The
  /// shortcut is checked against live responses of overlapping scopes under a lock on the
  /// shortcut, so two concurrent creates cannot both take it.
  func create(_ response: CannedResponse, requestID: String, fingerprint: String, logger: Logger) async throws -> CreateOutcome {
    try await database.withTransaction(logger: logger) { connection in
      try await Idempotency.lock(requestID: requestID, scope: "chat.canned_responses", on: connection, logger: logger)
      if let existing = try await Self.firstResult(requestID, fingerprint, connection, logger) {
        return .retried(existing)
      }
      try await AgentRows.requireGroups(response.skillGroupIds, field: "skill_group_ids", on: connection, logger: logger)
      try await Self.requireShortcutFree(response, on: connection, logger: logger)
      let id = UUID(uuidString: response.cannedResponseID)!
      let search = Self.searchText(response)
      try await connection.query(
        """
        INSERT INTO canned_responses (canned_response_id, request_id, request_fingerprint, title, shortcut, purpose, scope,
          skill_group_ids, search_text, search_grams, version, body)
        VALUES (\(id), \(requestID), \(fingerprint), \(response.title), \(response.shortcut), \(Int16(response.purpose.rawValue)),
          \(Int16(response.scope.rawValue)), \(response.skillGroupIds), \(search), \(Self.grams(of: search)),
          \(response.version), \(try response.bytea()))
        """, logger: logger)
      return .created(response)
    }
  }

  /// A live response; nil when there is none or it was deleted.
  func get(_ id: UUID, logger: Logger) async throws -> CannedResponse? {
    try await database.withConnection(logger: logger) { connection in
      try await Self.load(id, forUpdate: false, on: connection, logger: logger)
    }
  }

  static func load(_ id: UUID, forUpdate: Bool, on connection: PostgresConnection, logger: Logger) async throws -> CannedResponse? {
    let query: PostgresQuery =
      forUpdate
      ? "SELECT body FROM canned_responses WHERE canned_response_id = \(id) AND deleted_at IS NULL FOR UPDATE"
      : "SELECT body FROM canned_responses WHERE canned_response_id = \(id) AND deleted_at IS NULL"
    for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
      return try CannedResponse(bytea: body)
    }
    return nil
  }

  struct ListFilter {
    var skillGroupID = ""
    var purpose: Support_Chat_V1_CannedResponsePurpose = .unspecified
    /// Lower-cased substring of title, shortcut, body or tags; empty for none.
    var query = ""
  }

  /// One page ordered by (title, id) after `after`. Only the filters given become SQL.
  func list(_ filter: ListFilter, after: (title: String, id: UUID)?, limit: Int, logger: Logger) async throws -> [CannedResponse] {
    var bindings = PostgresBindings()
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    var conditions = ["deleted_at IS NULL"]
    if !filter.skillGroupID.isEmpty {
      conditions.append("(scope = \(Support_Chat_V1_CannedResponseScope.team.rawValue) OR skill_group_ids @> ARRAY[\(bind(filter.skillGroupID))]::text[])")
    }
    if filter.purpose != .unspecified { conditions.append("purpose = \(bind(Int16(filter.purpose.rawValue)))") }
    if !filter.query.isEmpty {
      conditions.append("search_grams @> \(bind(Self.grams(ofQuery: filter.query)))::text[] AND strpos(search_text, \(bind(filter.query))) > 0")
    }
    if let after {
      conditions.append("(title COLLATE \"C\", canned_response_id) > (\(bind(after.title)) COLLATE \"C\", \(bind(after.id)))")
    }
    let sql = """
      SELECT body FROM canned_responses WHERE \(conditions.joined(separator: " AND "))
      ORDER BY title COLLATE "C", canned_response_id LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var responses: [CannedResponse] = []
      for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
        responses.append(try CannedResponse(bytea: body))
      }
      return responses
    }
  }

  /// Locks the live response, lets `change` decide its new state (or throw), checks the
  /// shortcut and saves it. NOT_FOUND when there is no live response.
  func update(_ id: UUID, logger: Logger, change: @escaping @Sendable (CannedResponse) throws -> CannedResponse) async throws -> CannedResponse {
    try await database.withTransaction(logger: logger) { connection in
      guard let current = try await Self.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("canned response", id.uuidString.lowercased())
      }
      let updated = try change(current)
      if updated.skillGroupIds != current.skillGroupIds {
        try await AgentRows.requireGroups(updated.skillGroupIds, field: "canned_response.skill_group_ids", on: connection, logger: logger)
      }
      try await Self.requireShortcutFree(updated, on: connection, logger: logger)
      let search = Self.searchText(updated)
      try await connection.query(
        """
        UPDATE canned_responses SET title = \(updated.title), shortcut = \(updated.shortcut),
          purpose = \(Int16(updated.purpose.rawValue)), scope = \(Int16(updated.scope.rawValue)),
          skill_group_ids = \(updated.skillGroupIds), search_text = \(search), search_grams = \(Self.grams(of: search)),
          version = \(updated.version), body = \(try updated.bytea())
        WHERE canned_response_id = \(id)
        """, logger: logger)
      return updated
    }
  }

  /// Marks the live response deleted after `check` accepts it (version).
  func delete(_ id: UUID, at now: Date, logger: Logger, check: @escaping @Sendable (CannedResponse) throws -> Void) async throws {
    try await database.withTransaction(logger: logger) { connection in
      guard let current = try await Self.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("canned response", id.uuidString.lowercased())
      }
      try check(current)
      // A group's greeting must exist while the group uses it (CreateSkillGroup reads the
      // response FOR SHARE, so the two cannot cross).
      for try await group in try await connection.query(
        "SELECT skill_group_id FROM skill_groups WHERE greeting_canned_response_id = \(id.uuidString.lowercased()) LIMIT 1", logger: logger
      ).decode(String.self) {
        throw ServiceError.failedPrecondition(
          reason: "CANNED_RESPONSE_IN_USE", domain: ConversationHandlers.errorDomain,
          "skill group \(group) uses this canned response as its greeting: change the group's greeting first",
          metadata: ["skill_group_id": group, "canned_response_id": id.uuidString.lowercased()])
      }
      try await connection.query(
        "UPDATE canned_responses SET deleted_at = \(now) WHERE canned_response_id = \(id)", logger: logger)
    }
  }

  // MARK: - Shortcuts

  /// ALREADY_EXISTS (ErrorInfo SHORTCUT_IN_USE, metadata the other response's id) when another
  /// live response with the same shortcut has an overlapping scope: either is TEAM, or both
  /// name a common skill group. Serialised per shortcut until the transaction ends.
  static func requireShortcutFree(_ response: CannedResponse, on connection: PostgresConnection, logger: Logger) async throws {
    guard !response.shortcut.isEmpty else { return }
    let lockKey = "chat.canned_responses.shortcut:\(response.shortcut)"
    try await connection.query("SELECT pg_advisory_xact_lock(hashtext(\(lockKey)))", logger: logger)
    let team = Int16(Support_Chat_V1_CannedResponseScope.team.rawValue)
    let isTeam = response.scope == .team
    let rows = try await connection.query(
      """
      SELECT canned_response_id FROM canned_responses
      WHERE shortcut = \(response.shortcut) AND deleted_at IS NULL
        AND canned_response_id <> \(UUID(uuidString: response.cannedResponseID)!)
        AND (scope = \(team) OR \(isTeam) OR skill_group_ids && \(response.skillGroupIds))
      LIMIT 1
      """, logger: logger
    ).decode(UUID.self)
    for try await other in rows {
      let otherID = other.uuidString.lowercased()
      throw ServiceError.alreadyExists(
        reason: "SHORTCUT_IN_USE", domain: errorDomain,
        "shortcut \"\(response.shortcut)\" is already used by canned response \(otherID) in an overlapping scope",
        metadata: ["shortcut": response.shortcut, "canned_response_id": otherID])
    }
  }

  // MARK: - Search text

  /// What the `query` filter matches: title, shortcut, body and tags, lower-cased.
  static func searchText(_ response: CannedResponse) -> String {
    ([response.title, response.shortcut, response.body] + response.tags).joined(separator: "\n").lowercased()
  }

  /// Every 1-, 2- and 3-character substring of `text`: a substring query's grams are all
  /// among them, so a GIN containment test narrows the rows before strpos confirms the match.
  /// (pg_trgm would do this, but it drops CJK characters under the C locale.)
  static func grams(of text: String) -> [String] {
    let characters = Array(text)
    var grams = Set<String>()
    for length in 1...3 where characters.count >= length {
      for start in 0...(characters.count - length) {
        let gram = String(characters[start..<(start + length)])
        if !gram.contains("\n") { grams.insert(gram) }
      }
    }
    return grams.sorted()
  }

  /// The grams a query's matches must contain: its trigrams, or the query itself when shorter.
  static func grams(ofQuery query: String) -> [String] {
    let characters = Array(query)
    guard characters.count > 3 else { return [query] }
    return Set((0...(characters.count - 3)).map { String(characters[$0..<($0 + 3)]) }).sorted()
  }

  private static func firstResult(_ requestID: String, _ fingerprint: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> CannedResponse? {
    try await Idempotency.firstResult(
      of: CannedResponse.self, "SELECT request_fingerprint, body FROM canned_responses WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "canned response \($0.cannedResponseID)" }, on: connection, logger: logger)
  }
}
