import Foundation
import GRPCCore
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// The validation and permission rules ServiceQualityService's methods share. Every refusal
/// names the field and reason (INVALID_ARGUMENT) or what was refused (PERMISSION_DENIED).
enum QualityRequestRules {
  static let maxRangeDays = 366
  static let maxDayRangeDays = 92
  static let maxFilterValues = 100

  /// The half-open range, required, non-empty, at most `maxDays` long.
  static func range(_ request: Support_Common_V1_TimeRange, isSet: Bool, maxDays: Int, reason: String = "") throws -> (start: Int64, end: Int64) {
    guard isSet else { throw ServiceError.invalidArgument("time_range", "is required") }
    guard request.hasStartTime else { throw ServiceError.invalidArgument("time_range.start_time", "is required") }
    guard request.hasEndTime else { throw ServiceError.invalidArgument("time_range.end_time", "is required") }
    try Validate.timestamp(request.startTime, "time_range.start_time")
    try Validate.timestamp(request.endTime, "time_range.end_time")
    let start = request.startTime.unixMicroseconds
    let end = request.endTime.unixMicroseconds
    guard end > start else { throw ServiceError.invalidArgument("time_range", "is empty or inverted: end_time must be after start_time") }
    guard end - start <= Int64(maxDays) * 86_400_000_000 else {
      throw ServiceError.invalidArgument("time_range", "is longer than \(maxDays) days\(reason)")
    }
    return (start, end)
  }

  /// IANA zone names PostgreSQL and Foundation both know; "" means UTC.
  static let knownZones: Set<String> = Set(TimeZone.knownTimeZoneIdentifiers).union(["UTC"])

  static func timeZone(_ name: String) throws -> String {
    if name.isEmpty { return "UTC" }
    guard knownZones.contains(name) || (name.contains("/") && TimeZone(identifier: name) != nil) else { throw ServiceError.invalidArgument("time_zone", "\(name) is not a known IANA time zone") }
    return name
  }

  /// The filter, validated; an agent may only see their own numbers, so an agent's filter is
  /// narrowed to themselves and naming another agent is refused.
  static func filter(_ request: Support_Feedback_V1_MetricsFilter) throws -> QualityQueryStore.Filter {
    let caller = try Permissions.requireStaff("read service-quality metrics")
    func list(_ values: [String], _ field: String) throws -> [String] {
      try Validate.maxCount(values, "filter.\(field)", maxFilterValues)
      for value in values { try Validate.maxLength(value, "filter.\(field)", Validate.maxIDLength) }
      return values
    }
    var filter = QualityQueryStore.Filter()
    filter.agentIDs = try list(request.agentIds, "agent_ids")
    filter.categories = try list(request.categories, "categories")
    filter.skillGroups = try list(request.skillGroups, "skill_groups")
    filter.ticketTypes = try list(request.ticketTypes, "ticket_types")
    try Validate.maxCount(request.channels, "filter.channels", maxFilterValues)
    for channel in request.channels {
      try Validate.known(channel, "filter.channels")
      try Validate.specified(channel, "filter.channels")
    }
    filter.channels = request.channels.map { Int16($0.rawValue) }
    try Validate.known(request.subjectKind, "filter.subject_kind")
    guard [Support_Common_V1_SubjectKind.unspecified, .conversation, .ticket].contains(request.subjectKind) else {
      throw ServiceError.invalidArgument("filter.subject_kind", "must be CONVERSATION, TICKET or unspecified")
    }
    filter.subjectKind = Int16(request.subjectKind.rawValue)
    if caller.role == .agent {
      if filter.agentIDs.contains(where: { $0 != caller.subject }) {
        throw Permissions.denied("an agent may only read their own service-quality metrics (filter.agent_ids)")
      }
      filter.agentIDs = [caller.subject]
    }
    return filter
  }

  /// A page token is bound to the request it was issued for (everything but the paging fields).
  static func pageFilter(_ request: some SwiftProtobufMessageWithPaging) throws -> String {
    var copy = request
    copy.pageToken = ""
    copy.pageSize = 0
    return try Fingerprint.of(copy)
  }

  static func offset(_ token: String, filter: String) throws -> Int {
    guard let cursor = try PageCursor.decode(token, filter: filter, validKeys: 0...1_000_000) else { return 0 }
    return Int(cursor.key)
  }
}

/// The requests paged by an offset over computed rows.
protocol SwiftProtobufMessageWithPaging: SwiftProtobuf.Message {
  var pageToken: String { get set }
  var pageSize: Int32 { get set }
}

extension Support_Feedback_V1_GetServiceMetricsRequest: SwiftProtobufMessageWithPaging {}
extension Support_Feedback_V1_ListComplaintTrendsRequest: SwiftProtobufMessageWithPaging {}
