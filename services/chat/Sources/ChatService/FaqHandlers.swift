import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.chat.v1.FaqService: self-service questions and answers (自助服务); SQL in
/// FaqStore.swift, tokens in FaqTokenizer.swift. Shoppers may call GetFaqEntry, ListFaqEntries
/// and SearchFaq and see PUBLISHED entries only; writing is for agents, supervisors and services.
struct FaqHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_FaqService.Method
  let store: FaqStore
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateFaqEntry.descriptor, createFaqEntry)
    router.registerUnary(Methods.GetFaqEntry.descriptor, getFaqEntry)
    router.registerUnary(Methods.ListFaqEntries.descriptor, listFaqEntries)
    router.registerUnary(Methods.UpdateFaqEntry.descriptor, updateFaqEntry)
    router.registerUnary(Methods.DeleteFaqEntry.descriptor, deleteFaqEntry)
    router.registerUnary(Methods.SearchFaq.descriptor, searchFaq)
  }

  static let maxQuestionLength = 500
  static let maxAnswerLength = 10_000
  static let maxKeywords = 30
  static let maxKeywordLength = 50
  static let maxCategoryLength = 100
  static let maxAttachments = 10
  static let maxQueryLength = 500
  static let defaultSearchPageSize = 10
  static let maxSearchPageSize = 100

  @Sendable func createFaqEntry(_ request: Support_Chat_V1_CreateFaqEntryRequest) async throws -> FaqEntry {
    try Permissions.requireStaff("write FAQ entries")
    try Validate.requestID(request.requestID)
    let now = Date.nowMicroseconds
    var entry = FaqEntry()
    entry.faqEntryID = UUID().uuidString.lowercased()
    entry.question = request.question
    entry.answer = request.answer
    entry.keywords = request.keywords.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    entry.category = request.category
    entry.skillGroupID = request.skillGroupID
    entry.status = request.status == .unspecified ? .draft : request.status
    entry.attachments = request.attachments
    entry.createTime = now.timestamp
    entry.updateTime = now.timestamp
    entry.version = 1
    try Self.validate(entry, prefix: "")
    switch try await store.create(entry, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log) {
    case .created(let created):
      log.info("FAQ entry created", metadata: ["faq_entry_id": "\(created.faqEntryID)"])
      return created
    case .retried(let existing):
      return existing
    }
  }

  /// Checks an entry as it would be stored (fields named with `prefix`).
  static func validate(_ entry: FaqEntry, prefix: String) throws {
    try Validate.required(entry.question, "\(prefix)question", maxLength: maxQuestionLength)
    try Validate.required(entry.answer, "\(prefix)answer", maxLength: maxAnswerLength)
    try Validate.maxCount(entry.keywords, "\(prefix)keywords", maxKeywords)
    for (index, keyword) in entry.keywords.enumerated() {
      try Validate.required(keyword, "\(prefix)keywords[\(index)]", maxLength: maxKeywordLength)
    }
    try Validate.maxLength(entry.category, "\(prefix)category", maxCategoryLength)
    try Validate.maxLength(entry.skillGroupID, "\(prefix)skill_group_id", Validate.maxIDLength)
    try Validate.specified(entry.status, "\(prefix)status")
    try Validate.maxCount(entry.attachments, "\(prefix)attachments", maxAttachments)
    for (index, attachment) in entry.attachments.enumerated() {
      try Validate.attachment(attachment, "\(prefix)attachments[\(index)]")
    }
  }

  /// Whether the caller may see entries that are not PUBLISHED (drafts, archived ones).
  static func seesUnpublished() throws -> Bool { try Permissions.caller().isStaff }

  @Sendable func getFaqEntry(_ request: Support_Chat_V1_GetFaqEntryRequest) async throws -> FaqEntry {
    guard let id = try Validate.resourceID(request.faqEntryID, "faq_entry_id"),
      let entry = try await store.get(id, logger: log),
      // A draft or archived entry does not exist for a shopper.
      try entry.status == .published || Self.seesUnpublished()
    else { throw ServiceError.notFound("FAQ entry", request.faqEntryID) }
    return entry
  }

  @Sendable func listFaqEntries(_ request: Support_Chat_V1_ListFaqEntriesRequest) async throws -> Support_Chat_V1_ListFaqEntriesResponse {
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.known(request.status, "status")
    try Validate.maxLength(request.category, "category", Self.maxCategoryLength)
    var status = request.status
    if try !Self.seesUnpublished() {
      // Shoppers list published entries only: no status means PUBLISHED, another is refused.
      if status == .unspecified { status = .published }
      guard status == .published else { throw Permissions.denied("status: shoppers may list PUBLISHED entries only") }
    }
    var filterOnly = request
    filterOnly.status = status
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    let after = try TextKeyCursor.decode(request.pageToken, filter: filterKey, keyCount: 2)
      .map { (category: $0.keys[0], question: $0.keys[1], id: $0.id) }
    var entries = try await store.list(category: request.category, status: status, after: after, limit: pageSize + 1, logger: log)
    var page = Support_Chat_V1_ListFaqEntriesResponse()
    if entries.count > pageSize {
      entries.removeLast(entries.count - pageSize)
      let last = entries[entries.count - 1]
      page.nextPageToken = TextKeyCursor.token(keys: [last.category, last.question], id: last.faqEntryID, filter: filterKey)
    }
    page.faqEntries = entries
    return page
  }

  static let updatablePaths: Set<String> = ["question", "answer", "keywords", "category", "skill_group_id", "status", "attachments"]

  @Sendable func updateFaqEntry(_ request: Support_Chat_V1_UpdateFaqEntryRequest) async throws -> FaqEntry {
    try Permissions.requireStaff("write FAQ entries")
    let paths = try Validate.updateMask(request.updateMask.paths, updatable: Self.updatablePaths)
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    guard let id = try Validate.resourceID(request.faqEntry.faqEntryID, "faq_entry.faq_entry_id") else {
      throw ServiceError.notFound("FAQ entry", request.faqEntry.faqEntryID)
    }
    let wanted = request.faqEntry
    let now = Date.nowMicroseconds
    return try await store.update(id, logger: log) { current in
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("FAQ entry", expected: request.expectedVersion, actual: current.version)
      }
      var updated = current
      if paths.contains("question") { updated.question = wanted.question }
      if paths.contains("answer") { updated.answer = wanted.answer }
      if paths.contains("keywords") { updated.keywords = wanted.keywords.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
      if paths.contains("category") { updated.category = wanted.category }
      if paths.contains("skill_group_id") { updated.skillGroupID = wanted.skillGroupID }
      if paths.contains("status") { updated.status = wanted.status }
      if paths.contains("attachments") { updated.attachments = wanted.attachments }
      try Self.validate(updated, prefix: "faq_entry.")
      guard updated != current else { return current }
      updated.updateTime = now.timestamp
      updated.version = current.version + 1
      return updated
    }
  }

  @Sendable func deleteFaqEntry(_ request: Support_Chat_V1_DeleteFaqEntryRequest) async throws -> Support_Chat_V1_DeleteFaqEntryResponse {
    try Permissions.requireStaff("delete FAQ entries")
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    guard let id = try Validate.resourceID(request.faqEntryID, "faq_entry_id") else {
      throw ServiceError.notFound("FAQ entry", request.faqEntryID)
    }
    try await store.delete(id, logger: log) { current in
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("FAQ entry", expected: request.expectedVersion, actual: current.version)
      }
    }
    log.info("FAQ entry deleted", metadata: ["faq_entry_id": "\(id.uuidString.lowercased())"])
    return .init()
  }

  @Sendable func searchFaq(_ request: Support_Chat_V1_SearchFaqRequest) async throws -> Support_Chat_V1_SearchFaqResponse {
    if request.pageSize < 0 { throw ServiceError.invalidArgument("page_size", "must not be negative") }
    if request.pageSize > Self.maxSearchPageSize { throw ServiceError.invalidArgument("page_size", "must be at most \(Self.maxSearchPageSize)") }
    let pageSize = request.pageSize == 0 ? Self.defaultSearchPageSize : Int(request.pageSize)
    let query = request.query.trimmingCharacters(in: .whitespacesAndNewlines)
    if query.isEmpty && request.keywords.isEmpty {
      throw ServiceError.invalidArgument("query", "is required when there are no keywords")
    }
    try Validate.maxLength(request.query, "query", Self.maxQueryLength)
    try Validate.maxCount(request.keywords, "keywords", Self.maxKeywords)
    for (index, keyword) in request.keywords.enumerated() {
      try Validate.required(keyword, "keywords[\(index)]", maxLength: Self.maxKeywordLength)
    }
    try Validate.maxLength(request.category, "category", Self.maxCategoryLength)
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    var after: (score: Int64, id: UUID)?
    if let cursor = try PageCursor.decode(request.pageToken, filter: filterKey) {
      guard let id = UUID(uuidString: cursor.id) else {
        throw ServiceError.invalidArgument("page_token", "is not a token this service issued")
      }
      after = (cursor.key, id)
    }
    let search = FaqStore.Search(query: query, keywords: request.keywords, category: request.category)
    var hits = try await store.search(search, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Chat_V1_SearchFaqResponse()
    if hits.count > pageSize {
      hits.removeLast(hits.count - pageSize)
      let last = hits[hits.count - 1]
      response.nextPageToken = PageCursor(key: last.score, id: last.entry.faqEntryID, filter: filterKey).token
    }
    response.results = hits.map { hit in
      .with {
        $0.faqEntry = hit.entry
        $0.score = Double(hit.score) / FaqStore.scoreScale
        $0.matchedKeywords = hit.matchedKeywords
      }
    }
    return response
  }
}
