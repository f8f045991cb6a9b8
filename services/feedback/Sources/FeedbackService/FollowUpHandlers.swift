import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// support.feedback.v1.FollowUpService: follow-up visits (回访) after a resolved case. Staff
/// only (agents, supervisors, services): shoppers get PERMISSION_DENIED.
struct FollowUpHandlers: RegistrableRPCService {
  typealias Methods = Support_Feedback_V1_FollowUpService.Method
  let store: FollowUpStore
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateFollowUp.descriptor, createFollowUp)
    router.registerUnary(Methods.GetFollowUp.descriptor, getFollowUp)
    router.registerUnary(Methods.ListFollowUps.descriptor, listFollowUps)
    router.registerUnary(Methods.UpdateFollowUp.descriptor, updateFollowUp)
    router.registerUnary(Methods.RecordFollowUpOutcome.descriptor, recordFollowUpOutcome)
  }

  static let maxTextLength = 2000
  static let domain = "support.feedback.v1"

  @Sendable func createFollowUp(_ request: Support_Feedback_V1_CreateFollowUpRequest) async throws -> FollowUp {
    try Permissions.requireStaff("create follow-ups")
    try Validate.requestID(request.requestID)
    try Validate.required(request.ticketID, "ticket_id")
    try Validate.required(request.agentID, "agent_id")
    guard request.hasDueTime else { throw ServiceError.invalidArgument("due_time", "is required") }
    try Validate.timestamp(request.dueTime, "due_time")
    try Validate.maxLength(request.shopperID, "shopper_id", Validate.maxIDLength)
    try Validate.maxLength(request.skillGroup, "skill_group", Validate.maxIDLength)
    try Validate.maxLength(request.category, "category", Validate.maxIDLength)
    try Validate.maxLength(request.ticketType, "ticket_type", Validate.maxIDLength)
    try Validate.known(request.channel, "channel")
    let followUp = FollowUp.new(
      ticketID: request.ticketID, shopperID: request.shopperID, agentID: request.agentID, due: request.dueTime.truncatedToMicroseconds,
      skillGroup: request.skillGroup, category: request.category, ticketType: request.ticketType, channel: request.channel,
      now: Date.nowMicroseconds)
    let created = try await store.create(followUp, requestID: request.requestID, fingerprint: Fingerprint.of(request), logger: log)
    log.info("follow-up created", metadata: ["follow_up_id": "\(created.followUpID)", "ticket_id": "\(created.ticketID)"])
    return created
  }

  @Sendable func getFollowUp(_ request: Support_Feedback_V1_GetFollowUpRequest) async throws -> FollowUp {
    try Permissions.requireStaff("read follow-ups")
    guard let id = try Validate.resourceID(request.followUpID, "follow_up_id"), let followUp = try await store.get(id, logger: log) else {
      throw ServiceError.notFound("follow-up", request.followUpID)
    }
    return followUp
  }

  @Sendable func listFollowUps(_ request: Support_Feedback_V1_ListFollowUpsRequest) async throws -> Support_Feedback_V1_ListFollowUpsResponse {
    try Permissions.requireStaff("list follow-ups")
    let pageSize = try PageCursor.pageSize(request.pageSize)
    try Validate.known(request.status, "status")
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.maxLength(request.ticketID, "ticket_id", Validate.maxIDLength)
    if request.hasDueBeforeTime { try Validate.timestamp(request.dueBeforeTime, "due_before_time") }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    let filterKey = try Fingerprint.of(filterOnly)
    let after = try PageCursor.keysetAfter(request.pageToken, filter: filterKey)
    let filter = FollowUpStore.ListFilter(
      dueBefore: request.hasDueBeforeTime ? request.dueBeforeTime.unixMicroseconds : nil,
      agentID: request.agentID, status: request.status, ticketID: request.ticketID)
    var rows = try await store.list(filter, after: after, limit: pageSize + 1, logger: log)
    var response = Support_Feedback_V1_ListFollowUpsResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.followUp.followUpID, filter: filterKey).token
    }
    response.followUps = rows.map(\.followUp)
    return response
  }

  static let updatablePaths: Set<String> = ["agent_id", "due_time"]

  @Sendable func updateFollowUp(_ request: Support_Feedback_V1_UpdateFollowUpRequest) async throws -> FollowUp {
    try Permissions.requireStaff("update follow-ups")
    let paths = request.updateMask.paths
    if paths.isEmpty { throw ServiceError.invalidArgument("update_mask", "name at least one of agent_id, due_time") }
    for path in paths where !Self.updatablePaths.contains(path) {
      throw ServiceError.invalidArgument("update_mask", "\"\(path)\" cannot be updated (only agent_id, due_time)")
    }
    let changes = request.followUp
    if paths.contains("agent_id") { try Validate.required(changes.agentID, "follow_up.agent_id") }
    if paths.contains("due_time") {
      guard changes.hasDueTime else { throw ServiceError.invalidArgument("follow_up.due_time", "is required") }
      try Validate.timestamp(changes.dueTime, "follow_up.due_time")
    }
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    guard let id = try Validate.resourceID(changes.followUpID, "follow_up.follow_up_id") else {
      throw ServiceError.notFound("follow-up", changes.followUpID)
    }
    let now = Date.nowMicroseconds
    return try await store.change(id, requestID: "", fingerprint: "", logger: log) { current in
      try Self.requirePending(current)
      try Self.check(expectedVersion: request.expectedVersion, current)
      var next = current
      if paths.contains("agent_id") { next.agentID = changes.agentID }
      if paths.contains("due_time") { next.dueTime = changes.dueTime.truncatedToMicroseconds }
      next.version += 1
      next.updateTime = now.timestamp
      return FollowUpStore.Change(followUp: next, announce: nil)
    }
  }

  @Sendable func recordFollowUpOutcome(_ request: Support_Feedback_V1_RecordFollowUpOutcomeRequest) async throws -> FollowUp {
    try Permissions.requireStaff("record follow-up outcomes")
    let now = Date.nowMicroseconds
    try Self.validate(request)
    let actor = try Permissions.actor(claimed: request.hasActor ? request.actor : nil)
    guard let id = try Validate.resourceID(request.followUpID, "follow_up_id") else {
      throw ServiceError.notFound("follow-up", request.followUpID)
    }
    let fingerprint = try request.requestID.isEmpty ? "" : Fingerprint.of(request)
    let recorded = try await store.change(id, requestID: request.requestID, fingerprint: fingerprint, logger: log) { current in
      // Against the time of this call, so here: a retry of an attempt recorded before returns
      // its first result (the store looks the request id up before deciding).
      if !request.reached && request.hasNextAttemptTime && request.nextAttemptTime.microsecondDate <= now {
        throw ServiceError.invalidArgument("next_attempt_time", "must be in the future")
      }
      try Self.requirePending(current)
      try Self.check(expectedVersion: request.expectedVersion, current)
      var next = current
      next.attempts.append(.with {
        $0.reached = request.reached
        $0.satisfaction = request.satisfaction
        $0.notes = request.notes
        $0.reason = request.reason
        $0.recordTime = now.timestamp
        $0.recordedBy = actor
      })
      if request.reached {
        next.status = .completed
      } else if request.hasNextAttemptTime {
        next.dueTime = request.nextAttemptTime.truncatedToMicroseconds
      } else {
        next.status = .unreached
      }
      next.version += 1
      next.updateTime = now.timestamp
      return FollowUpStore.Change(followUp: next) { FeedbackEvents.followUpRecorded($0, eventID: $1) }
    }
    log.info("follow-up attempt recorded", metadata: ["follow_up_id": "\(recorded.followUpID)", "status": "\(recorded.status)"])
    return recorded
  }

  /// The attempt rules of RecordFollowUpOutcome (feedback.proto), each failure naming its field.
  static func validate(_ request: Support_Feedback_V1_RecordFollowUpOutcomeRequest) throws {
    try Validate.required(request.followUpID, "follow_up_id")
    try Validate.maxLength(request.requestID, "request_id", Validate.maxIDLength)
    try Validate.known(request.satisfaction, "satisfaction")
    try Validate.maxLength(request.notes, "notes", maxTextLength)
    try Validate.maxLength(request.reason, "reason", maxTextLength)
    if request.expectedVersion < 0 { throw ServiceError.invalidArgument("expected_version", "must not be negative") }
    if request.reached {
      if request.satisfaction == .unspecified {
        throw ServiceError.invalidArgument("satisfaction", "is required when the shopper was reached")
      }
      if request.satisfaction == .dissatisfied {
        try Validate.required(request.reason, "reason", maxLength: maxTextLength)
      }
      if request.hasNextAttemptTime {
        throw ServiceError.invalidArgument("next_attempt_time", "is only for an attempt that did not reach the shopper")
      }
    } else {
      if request.satisfaction != .unspecified {
        throw ServiceError.invalidArgument("satisfaction", "must be UNSPECIFIED when the shopper was not reached")
      }
      if request.hasNextAttemptTime {
        // In the future: checked once the request id is known to be new (recordFollowUpOutcome).
        try Validate.timestamp(request.nextAttemptTime, "next_attempt_time")
      }
    }
  }

  static func requirePending(_ followUp: FollowUp) throws {
    guard followUp.status == .pending else {
      throw ServiceError.failedPrecondition(
        reason: "FOLLOW_UP_NOT_PENDING", domain: domain,
        "follow-up \(followUp.followUpID) is \(followUp.status.code), not PENDING",
        metadata: ["follow_up_id": followUp.followUpID, "status": followUp.status.code])
    }
  }

  static func check(expectedVersion: Int64, _ followUp: FollowUp) throws {
    if expectedVersion != 0 && expectedVersion != followUp.version {
      throw ServiceError.versionMismatch("follow-up \(followUp.followUpID)", expected: expectedVersion, actual: followUp.version)
    }
  }
}

extension Support_Feedback_V1_FollowUpStatus {
  /// The proto enum value's name, for messages and ErrorInfo metadata.
  var code: String {
    switch self {
    case .unspecified: "FOLLOW_UP_STATUS_UNSPECIFIED"
    case .pending: "FOLLOW_UP_STATUS_PENDING"
    case .completed: "FOLLOW_UP_STATUS_COMPLETED"
    case .unreached: "FOLLOW_UP_STATUS_UNREACHED"
    case .cancelled: "FOLLOW_UP_STATUS_CANCELLED"
    case .UNRECOGNIZED(let value): "\(value)"
    }
  }
}

extension FollowUp {
  /// A new PENDING follow-up, version 1.
  static func new(
    ticketID: String, shopperID: String, agentID: String, due: Google_Protobuf_Timestamp, skillGroup: String, category: String, ticketType: String,
    channel: Support_Common_V1_Channel, now: Date
  ) -> FollowUp {
    .with {
      $0.followUpID = UUID().uuidString.lowercased()
      $0.ticketID = ticketID
      $0.shopperID = shopperID
      $0.agentID = agentID
      $0.status = .pending
      $0.dueTime = due
      $0.createTime = now.timestamp
      $0.updateTime = now.timestamp
      $0.version = 1
      $0.skillGroup = skillGroup
      $0.category = category
      $0.ticketType = ticketType
      $0.channel = channel
    }
  }
}

extension Google_Protobuf_Timestamp {
  /// The same instant at PostgreSQL's precision, so the stored message and its column agree.
  var truncatedToMicroseconds: Google_Protobuf_Timestamp {
    Google_Protobuf_Timestamp(seconds: seconds, nanos: nanos / 1000 * 1000)
  }
}
