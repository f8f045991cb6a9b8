import Foundation
import GRPCCore
import Logging
import NIOCore
import PostgresNIO
import ServiceKit
import SupportCodec

typealias FaqEntry = Support_Chat_V1_FaqEntry

/// All SQL of FaqService (table `faq_entries`, migration 7). Each entry is stored with its
/// search tokens (FaqTokenizer): question and answer tokens for ranking, and their union with
/// the keywords' tokens for the GIN-indexed match.
struct FaqStore: Sendable {
  let database: Database

  enum CreateOutcome {
    case created(FaqEntry)
    case retried(FaqEntry)
  }

  func create(_ entry: FaqEntry, requestID: String, fingerprint: String, logger: Logger) async throws -> CreateOutcome {
    try await database.withTransaction(logger: logger) { connection in
      try await Idempotency.lock(requestID: requestID, scope: "chat.faq_entries", on: connection, logger: logger)
      if let existing = try await Self.firstResult(requestID, fingerprint, connection, logger) {
        return .retried(existing)
      }
      let tokens = SearchColumns(entry)
      try await connection.query(
        """
        INSERT INTO faq_entries (faq_entry_id, request_id, request_fingerprint, category, question, status, keywords,
          question_tokens, answer_tokens, search_tokens, version, body)
        VALUES (\(UUID(uuidString: entry.faqEntryID)!), \(requestID), \(fingerprint), \(entry.category), \(entry.question),
          \(Int16(entry.status.rawValue)), \(entry.keywords), \(tokens.question), \(tokens.answer), \(tokens.all),
          \(entry.version), \(try entry.bytea()))
        """, logger: logger)
      return .created(entry)
    }
  }

  func get(_ id: UUID, logger: Logger) async throws -> FaqEntry? {
    try await database.withConnection(logger: logger) { connection in
      try await Self.load(id, forUpdate: false, on: connection, logger: logger)
    }
  }

  private static func load(_ id: UUID, forUpdate: Bool, on connection: PostgresConnection, logger: Logger) async throws -> FaqEntry? {
    let query: PostgresQuery =
      forUpdate
      ? "SELECT body FROM faq_entries WHERE faq_entry_id = \(id) FOR UPDATE"
      : "SELECT body FROM faq_entries WHERE faq_entry_id = \(id)"
    for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
      return try FaqEntry(bytea: body)
    }
    return nil
  }

  /// One page ordered by (category, question, id) after `after`.
  func list(
    category: String, status: Support_Chat_V1_FaqEntryStatus, after: (category: String, question: String, id: UUID)?,
    limit: Int, logger: Logger
  ) async throws -> [FaqEntry] {
    var bindings = PostgresBindings()
    func bind<T: PostgresNonThrowingEncodable & Sendable>(_ value: T) -> String {
      bindings.append(value)
      return "$\(bindings.count)"
    }
    var conditions: [String] = []
    if status != .unspecified { conditions.append("status = \(bind(Int16(status.rawValue)))") }
    if !category.isEmpty { conditions.append("category = \(bind(category))") }
    if let after {
      conditions.append(
        """
        (category COLLATE "C", question COLLATE "C", faq_entry_id)
          > (\(bind(after.category)) COLLATE "C", \(bind(after.question)) COLLATE "C", \(bind(after.id)))
        """)
    }
    let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
    let sql = """
      SELECT body FROM faq_entries \(whereClause)
      ORDER BY category COLLATE "C", question COLLATE "C", faq_entry_id LIMIT \(bind(Int64(limit)))
      """
    let query = PostgresQuery(unsafeSQL: sql, binds: bindings)
    return try await database.withConnection(logger: logger) { connection in
      var entries: [FaqEntry] = []
      for try await body in try await connection.query(query, logger: logger).decode(ByteBuffer.self) {
        entries.append(try FaqEntry(bytea: body))
      }
      return entries
    }
  }

  func update(_ id: UUID, logger: Logger, change: @escaping @Sendable (FaqEntry) throws -> FaqEntry) async throws -> FaqEntry {
    try await database.withTransaction(logger: logger) { connection in
      guard let current = try await Self.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("FAQ entry", id.uuidString.lowercased())
      }
      let updated = try change(current)
      let tokens = SearchColumns(updated)
      try await connection.query(
        """
        UPDATE faq_entries SET category = \(updated.category), question = \(updated.question),
          status = \(Int16(updated.status.rawValue)), keywords = \(updated.keywords), question_tokens = \(tokens.question),
          answer_tokens = \(tokens.answer), search_tokens = \(tokens.all), version = \(updated.version), body = \(try updated.bytea())
        WHERE faq_entry_id = \(id)
        """, logger: logger)
      return updated
    }
  }

  func delete(_ id: UUID, logger: Logger, check: @escaping @Sendable (FaqEntry) throws -> Void) async throws {
    try await database.withTransaction(logger: logger) { connection in
      guard let current = try await Self.load(id, forUpdate: true, on: connection, logger: logger) else {
        throw ServiceError.notFound("FAQ entry", id.uuidString.lowercased())
      }
      try check(current)
      try await connection.query("DELETE FROM faq_entries WHERE faq_entry_id = \(id)", logger: logger)
    }
  }

  // MARK: - Search

  /// A search as SQL sees it: the query's tokens with their weights, the wanted keywords and
  /// the lower-cased query (an entry keyword found inside it counts as matched too).
  struct Search: Sendable {
    var tokens: [String]
    var weights: [Int32]
    var keywords: [String]
    var loweredQuery: String
    var category: String

    init(query: String, keywords: [String], category: String) {
      tokens = FaqTokenizer.tokens(query)
      weights = tokens.map { Int32(FaqTokenizer.weight($0)) }
      self.keywords = keywords.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
      loweredQuery = query.lowercased()
      self.category = category
    }
  }

  /// Relevance in millionths, so that pages can be keyed on an exact integer:
  /// text = (2 × weight of query tokens found in the question + weight found in the answer) /
  /// (3 × weight of all query tokens), in 0…1 (a word or bigram weighs 2, a single CJK
  /// character 1); plus 0.5 for each of the entry's keywords that matched (named in
  /// `keywords`, or contained in the query).
  static let scoreScale = 1_000_000.0

  struct Hit: Sendable {
    var entry: FaqEntry
    var score: Int64
    var matchedKeywords: [String]
  }

  /// PUBLISHED entries matching `search`, best first, then by id; after (score, id) of the
  /// previous page; with a score of at least `minimumScore`.
  static func search(
    _ search: Search, after: (score: Int64, id: UUID)?, minimumScore: Int64 = 0, limit: Int,
    on connection: PostgresConnection, logger: Logger
  ) async throws -> [Hit] {
    let totalWeight = Int64(search.weights.reduce(0, +))
    let denominator = max(1, 3 * totalWeight)
    let afterScore = after?.score
    let afterID = after?.id
    let query: PostgresQuery = """
      WITH q(token, weight) AS (SELECT * FROM unnest(\(search.tokens)::text[], \(search.weights)::integer[])),
      matched AS (
        SELECT f.faq_entry_id, f.body,
          ARRAY(SELECT k FROM unnest(f.keywords) k
                WHERE k = ANY(\(search.keywords)::text[]) OR (\(search.loweredQuery) <> '' AND strpos(\(search.loweredQuery), k) > 0)) AS keywords,
          (SELECT coalesce(sum(q.weight), 0) FROM q WHERE q.token = ANY(f.question_tokens)) AS in_question,
          (SELECT coalesce(sum(q.weight), 0) FROM q WHERE q.token = ANY(f.answer_tokens)) AS in_answer
        FROM faq_entries f
        WHERE f.status = 2 AND (f.search_tokens && \(search.tokens)::text[] OR f.keywords && \(search.keywords)::text[])
          AND (\(search.category) = '' OR f.category = \(search.category))
      ),
      scored AS (
        SELECT faq_entry_id, body, keywords,
          ((2 * in_question + in_answer) * 1000000 / \(denominator) + 500000 * cardinality(keywords))::int8 AS score
        FROM matched
      )
      SELECT body, score, keywords FROM scored
      WHERE score >= \(minimumScore)
        AND (\(afterScore)::int8 IS NULL OR score < \(afterScore)::int8 OR (score = \(afterScore)::int8 AND faq_entry_id > \(afterID)::uuid))
      ORDER BY score DESC, faq_entry_id
      LIMIT \(Int64(limit))
      """
    var hits: [Hit] = []
    for try await (body, score, keywords) in try await connection.query(query, logger: logger).decode((ByteBuffer, Int64, [String]).self) {
      hits.append(Hit(entry: try FaqEntry(bytea: body), score: score, matchedKeywords: keywords))
    }
    return hits
  }

  func search(_ search: Search, after: (score: Int64, id: UUID)?, limit: Int, logger: Logger) async throws -> [Hit] {
    try await database.withConnection(logger: logger) { connection in
      try await Self.search(search, after: after, limit: limit, on: connection, logger: logger)
    }
  }

  /// The token columns of an entry.
  struct SearchColumns {
    var question: [String]
    var answer: [String]
    var all: [String]

    init(_ entry: FaqEntry) {
      question = FaqTokenizer.tokens(entry.question)
      answer = FaqTokenizer.tokens(entry.answer)
      let keywordTokens = entry.keywords.flatMap { FaqTokenizer.tokens($0) }
      all = Array(Set(question + answer + keywordTokens)).sorted()
    }
  }

  private static func firstResult(_ requestID: String, _ fingerprint: String, _ connection: PostgresConnection, _ logger: Logger) async throws -> FaqEntry? {
    try await Idempotency.firstResult(
      of: FaqEntry.self, "SELECT request_fingerprint, body FROM faq_entries WHERE request_id = \(requestID)",
      fingerprint: fingerprint, describe: { "FAQ entry \($0.faqEntryID)" }, on: connection, logger: logger)
  }
}
