import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.chat.v1.CannedResponseService: standardised replies (话术统一) with placeholders
/// (grammar in CannedResponseTemplate.swift, SQL in CannedResponseStore.swift). Every method
/// is for agents, supervisors and services.
struct CannedResponseHandlers: RegistrableRPCService {
  typealias Methods = Support_Chat_V1_CannedResponseService.Method
  let store: CannedResponseStore
  /// For RenderCannedResponse's conversation context.
  let chatStore: ChatStore
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateCannedResponse.descriptor, createCannedResponse)
    router.registerUnary(Methods.GetCannedResponse.descriptor, getCannedResponse)
    router.registerUnary(Methods.ListCannedResponses.descriptor, listCannedResponses)
    router.registerUnary(Methods.UpdateCannedResponse.descriptor, updateCannedResponse)
    router.registerUnary(Methods.DeleteCannedResponse.descriptor, deleteCannedResponse)
    router.registerUnary(Methods.RenderCannedResponse.descriptor, renderCannedResponse)
  }

  static let maxTitleLength = 200
  static let maxShortcutLength = 32
  static let maxBodyLength = 5_000
  static let maxTags = 20
  static let maxTagLength = 50
  static let maxSkillGroups = 50

  @Sendable func createCannedResponse(_ request: Support_Chat_V1_CreateCannedResponseRequest) async throws -> CannedResponse {
    try Permissions.requireStaff("manage canned responses")
    try Validate.requestID(request.requestID)
    if request.hasActor { try Validate.known(request.actor.kind, "actor.kind") }
    let createdBy = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    let now = Date.nowMicroseconds
    var response = CannedResponse()
    response.cannedResponseID = UUID().uuidString.lowercased()
    response.title = request.title
    response.shortcut = request.shortcut
    response.body = request.body
    response.purpose = request.purpose
    response.scope = request.scope
    response.skillGroupIds = request.skillGroupIds
    response.tags = request.tags
    response.createdBy = createdBy
    response.createTime = now.timestamp
    response.updateTime = now.timestamp
    response.version = 1
    response.placeholders = try Self.validated(response, prefix: "")
    switch try await store.create(response, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log) {
    case .created(let created):
      log.info("canned response created", metadata: ["canned_response_id": "\(created.cannedResponseID)"])
      return created
    case .retried(let existing):
      return existing
    }
  }

  /// Checks a response as it would be stored (fields named with `prefix`, e.g.
  /// "canned_response.") and returns its placeholders.
  static func validated(_ response: CannedResponse, prefix: String) throws -> [String] {
    try Validate.required(response.title, "\(prefix)title", maxLength: maxTitleLength)
    try Validate.maxLength(response.shortcut, "\(prefix)shortcut", maxShortcutLength)
    if response.shortcut.contains(where: \.isWhitespace) {
      throw ServiceError.invalidArgument("\(prefix)shortcut", "must not contain spaces")
    }
    try Validate.required(response.body, "\(prefix)body", maxLength: maxBodyLength)
    let template = try CannedResponseTemplate(parsing: response.body, field: "\(prefix)body")
    try Validate.known(response.purpose, "\(prefix)purpose")
    try Validate.specified(response.scope, "\(prefix)scope")
    try Validate.maxCount(response.skillGroupIds, "\(prefix)skill_group_ids", maxSkillGroups)
    for (index, group) in response.skillGroupIds.enumerated() {
      try Validate.required(group, "\(prefix)skill_group_ids[\(index)]")
    }
    switch response.scope {
    case .skillGroup where response.skillGroupIds.isEmpty:
      throw ServiceError.invalidArgument("\(prefix)skill_group_ids", "at least one skill group is required with scope SKILL_GROUP")
    case .team where !response.skillGroupIds.isEmpty:
      throw ServiceError.invalidArgument("\(prefix)skill_group_ids", "must be empty with scope TEAM (the whole team may use it)")
    default: break
    }
    try Validate.maxCount(response.tags, "\(prefix)tags", maxTags)
    for (index, tag) in response.tags.enumerated() {
      try Validate.required(tag, "\(prefix)tags[\(index)]", maxLength: maxTagLength)
    }
    return template.placeholders
  }

  @Sendable func getCannedResponse(_ request: Support_Chat_V1_GetCannedResponseRequest) async throws -> CannedResponse {
    try Permissions.requireStaff("read canned responses")
    guard let id = try Validate.resourceID(request.cannedResponseID, "canned_response_id"),
      let response = try await store.get(id, logger: log)
    else { throw ServiceError.notFound("canned response", request.cannedResponseID) }
    return response
  }

  @Sendable func listCannedResponses(_ request: Support_Chat_V1_ListCannedResponsesRequest) async throws -> Support_Chat_V1_ListCannedResponsesResponse {
    try Permissions.requireStaff("read canned responses")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.maxLength(request.skillGroupID, "skill_group_id", Validate.maxIDLength)
    try Validate.known(request.purpose, "purpose")
    try Validate.maxLength(request.query, "query", 200)
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    let after = try TextKeyCursor.decode(request.pageToken, filter: filterKey, keyCount: 1).map { (title: $0.keys[0], id: $0.id) }
    let filter = CannedResponseStore.ListFilter(
      skillGroupID: request.skillGroupID, purpose: request.purpose,
      query: request.query.trimmingCharacters(in: .whitespacesAndNewlines).lowercased())
    var responses = try await store.list(filter, after: after, limit: pageSize + 1, logger: log)
    var page = Support_Chat_V1_ListCannedResponsesResponse()
    if responses.count > pageSize {
      responses.removeLast(responses.count - pageSize)
      let last = responses[responses.count - 1]
      page.nextPageToken = TextKeyCursor.token(keys: [last.title], id: last.cannedResponseID, filter: filterKey)
    }
    page.cannedResponses = responses
    return page
  }

  static let updatablePaths: Set<String> = ["title", "shortcut", "body", "purpose", "scope", "skill_group_ids", "tags"]

  @Sendable func updateCannedResponse(_ request: Support_Chat_V1_UpdateCannedResponseRequest) async throws -> CannedResponse {
    try Permissions.requireStaff("manage canned responses")
    let paths = try Validate.updateMask(request.updateMask.paths, updatable: Self.updatablePaths)
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    guard let id = try Validate.resourceID(request.cannedResponse.cannedResponseID, "canned_response.canned_response_id") else {
      throw ServiceError.notFound("canned response", request.cannedResponse.cannedResponseID)
    }
    let wanted = request.cannedResponse
    let now = Date.nowMicroseconds
    return try await store.update(id, logger: log) { current in
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("canned response", expected: request.expectedVersion, actual: current.version)
      }
      var updated = current
      if paths.contains("title") { updated.title = wanted.title }
      if paths.contains("shortcut") { updated.shortcut = wanted.shortcut }
      if paths.contains("body") { updated.body = wanted.body }
      if paths.contains("purpose") { updated.purpose = wanted.purpose }
      if paths.contains("scope") { updated.scope = wanted.scope }
      if paths.contains("skill_group_ids") { updated.skillGroupIds = wanted.skillGroupIds }
      if paths.contains("tags") { updated.tags = wanted.tags }
      updated.placeholders = try Self.validated(updated, prefix: "canned_response.")
      guard updated != current else { return current }
      updated.updateTime = now.timestamp
      updated.version = current.version + 1
      return updated
    }
  }

  @Sendable func deleteCannedResponse(_ request: Support_Chat_V1_DeleteCannedResponseRequest) async throws -> Support_Chat_V1_DeleteCannedResponseResponse {
    try Permissions.requireStaff("manage canned responses")
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    guard let id = try Validate.resourceID(request.cannedResponseID, "canned_response_id") else {
      throw ServiceError.notFound("canned response", request.cannedResponseID)
    }
    try await store.delete(id, at: Date.nowMicroseconds, logger: log) { current in
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("canned response", expected: request.expectedVersion, actual: current.version)
      }
    }
    log.info("canned response deleted", metadata: ["canned_response_id": "\(id.uuidString.lowercased())"])
    return .init()
  }

  @Sendable func renderCannedResponse(_ request: Support_Chat_V1_RenderCannedResponseRequest) async throws -> Support_Chat_V1_RenderCannedResponseResponse {
    try Permissions.requireStaff("render canned responses")
    try ConversationPlaceholders.validate(request.placeholderValues)
    guard let id = try Validate.resourceID(request.cannedResponseID, "canned_response_id"),
      let response = try await store.get(id, logger: log)
    else { throw ServiceError.notFound("canned response", request.cannedResponseID) }
    var conversation: Conversation?
    if !request.conversationID.isEmpty {
      guard let conversationID = try Validate.resourceID(request.conversationID, "conversation_id"),
        let found = try await chatStore.conversation(conversationID, logger: log)
      else { throw ServiceError.notFound("conversation", request.conversationID) }
      conversation = found
    }
    let values = ConversationPlaceholders.merged(conversation, agentName: "", overrides: request.placeholderValues)
    let rendered = try CannedResponseTemplate(parsing: response.body).render(values)
    return .with {
      $0.text = rendered.text
      $0.missingPlaceholders = rendered.missing
    }
  }
}
