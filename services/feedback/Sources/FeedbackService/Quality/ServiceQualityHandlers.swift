import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec
import SwiftProtobuf

/// support.feedback.v1.ServiceQualityService: the quality numbers, computed per request from
/// feedback's measure rows (QualityQueryStore) by the definitions on the proto fields
/// (ServiceMetricsCalculator). Staff only; an agent sees only their own numbers.
struct ServiceQualityHandlers: RegistrableRPCService {
  typealias Methods = Support_Feedback_V1_ServiceQualityService.Method
  let store: QualityQueryStore
  let settings: QualitySettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.GetServiceMetrics.descriptor, getServiceMetrics)
    router.registerUnary(Methods.ListComplaintTrends.descriptor, listComplaintTrends)
  }

  @Sendable func getServiceMetrics(_ request: Support_Feedback_V1_GetServiceMetricsRequest) async throws -> Support_Feedback_V1_GetServiceMetricsResponse {
    try Permissions.requireStaff("read service-quality metrics")
    let groupBy = request.groupBy
    try Validate.maxCount(groupBy, "group_by", 2)
    for dimension in groupBy {
      try Validate.specified(dimension, "group_by")
    }
    guard Set(groupBy).count == groupBy.count else { throw ServiceError.invalidArgument("group_by", "names a dimension twice") }
    let byDay = groupBy.contains(.day)
    let range = try QualityRequestRules.range(
      request.timeRange, isSet: request.hasTimeRange, maxDays: byDay ? QualityRequestRules.maxDayRangeDays : QualityRequestRules.maxRangeDays,
      reason: byDay ? " (grouped by DAY)" : "")
    let zone = try QualityRequestRules.timeZone(request.timeZone)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    let offset = try QualityRequestRules.offset(request.pageToken, filter: try QualityRequestRules.pageFilter(request))
    let filter = try QualityRequestRules.filter(request.filter)

    // Delivered orders have no agent, category, skill group or channel: they only count in
    // DAY/WEEK/MONTH rows and the total.
    let rowsWithOrders = groupBy.allSatisfy { [Support_Feedback_V1_MetricsDimension.day, .week, .month].contains($0) }
    async let through = store.throughTime(QualityEventConsumers.names, logger: log)
    let grouped: [QualityQueryStore.Count], totals: [QualityQueryStore.Count]
    if groupBy.isEmpty {
      // The one row is the total: one query.
      grouped = try await store.counts(start: range.start, end: range.end, groupBy: [], timeZone: zone, filter: filter, withOrders: true, logger: log)
      totals = grouped
    } else if rowsWithOrders {
      // Days, weeks or months split the facts without overlap and keep every one (orders
      // included): the total is the rows' sum, with no second query.
      grouped = try await store.counts(start: range.start, end: range.end, groupBy: groupBy, timeZone: zone, filter: filter, withOrders: true, logger: log)
      totals = QualityQueryStore.merged(grouped)
    } else {
      async let rows = store.counts(start: range.start, end: range.end, groupBy: groupBy, timeZone: zone, filter: filter, withOrders: rowsWithOrders, logger: log)
      totals = try await store.counts(start: range.start, end: range.end, groupBy: [], timeZone: zone, filter: filter, withOrders: true, logger: log)
      grouped = try await rows
    }

    var groups: [[String]: ServiceMetricsCalculator] = [:]
    for count in grouped { groups[count.key, default: ServiceMetricsCalculator()].add(count) }
    var total = ServiceMetricsCalculator()
    for count in totals { total.add(count) }
    let keys = groups.keys.sorted { Self.precedes($0, $1, groupBy) }
    let page = keys.dropFirst(offset).prefix(pageSize)
    let nextToken = offset + page.count < keys.count
      ? PageCursor(key: Int64(offset + page.count), id: "", filter: try QualityRequestRules.pageFilter(request)).token : ""
    let throughTime = try await through ?? Date(timeIntervalSince1970: 0)
    return .with { response in
      response.rows = page.map { key in
        .with {
          $0.key = Self.metricsKey(key, groupBy)
          $0.metrics = groups[key]!.metrics(settings: settings)
        }
      }
      response.total = total.metrics(settings: settings)
      response.nextPageToken = nextToken
      response.dataThroughTime = Google_Protobuf_Timestamp(date: throughTime)
    }
  }

  /// Keys in group_by order: ids and codes as text, days and channels as numbers.
  static func precedes(_ a: [String], _ b: [String], _ groupBy: [Support_Feedback_V1_MetricsDimension]) -> Bool {
    for (index, dimension) in groupBy.enumerated() where a[index] != b[index] {
      switch dimension {
      case .day, .week, .month, .channel: return (Int64(a[index]) ?? 0) < (Int64(b[index]) ?? 0)
      default: return a[index] < b[index]
      }
    }
    return false
  }

  static func metricsKey(_ key: [String], _ groupBy: [Support_Feedback_V1_MetricsDimension]) -> Support_Feedback_V1_MetricsKey {
    .with { out in
      for (index, dimension) in groupBy.enumerated() {
        let value = key[index]
        switch dimension {
        case .agent: out.agentID = value
        case .category: out.category = value
        case .skillGroup: out.skillGroup = value
        case .channel: out.channel = Support_Common_V1_Channel(rawValue: Int(value) ?? 0) ?? .unspecified
        case .day: out.dayStartTime = Micros.timestamp(Int64(value) ?? 0)
        case .week: out.weekStartTime = Micros.timestamp(Int64(value) ?? 0)
        case .month: out.monthStartTime = Micros.timestamp(Int64(value) ?? 0)
        case .unspecified, .UNRECOGNIZED: break
        }
      }
    }
  }

  @Sendable func listComplaintTrends(_ request: Support_Feedback_V1_ListComplaintTrendsRequest) async throws -> Support_Feedback_V1_ListComplaintTrendsResponse {
    try Permissions.requireStaff("read service-quality metrics")
    let range = try QualityRequestRules.range(request.timeRange, isSet: request.hasTimeRange, maxDays: QualityRequestRules.maxRangeDays)
    try Validate.specified(request.granularity, "granularity")
    let unit = switch request.granularity {
    case .week: "week"
    case .month: "month"
    default: "day"
    }
    let zone = try QualityRequestRules.timeZone(request.timeZone)
    let pageSize = try PageCursor.pageSize(request.pageSize)
    let offset = try QualityRequestRules.offset(request.pageToken, filter: try QualityRequestRules.pageFilter(request))
    let filter = try QualityRequestRules.filter(request.filter)

    let previousStart = range.start - (range.end - range.start)
    async let through = store.throughTime(QualityEventConsumers.names, logger: log)
    async let starts = store.bucketStarts(start: range.start, end: range.end, unit: unit, timeZone: zone, logger: log)
    async let previous = store.counts(start: previousStart, end: range.start, groupBy: [.category], timeZone: zone, filter: filter, withOrders: false, logger: log)
    let current = try await store.complaintBuckets(start: range.start, end: range.end, unit: unit, timeZone: zone, filter: filter, logger: log)

    var perBucket: [String: [Int64: Int64]] = [:]
    for row in current { perBucket[row.category, default: [:]][row.bucket, default: 0] += row.count }
    var previousTotals: [String: Int64] = [:]
    for count in try await previous where count.measure == QualityMeasure.Kind.complaint.rawValue {
      previousTotals[count.key[0], default: 0] += count.count
    }
    let bucketStarts = try await starts
    let rangeStart = range.start
    let series: [Support_Feedback_V1_ComplaintTrendSeries] = Set(perBucket.keys).union(previousTotals.keys).map { category in
      let counts = perBucket[category] ?? [:]
      return .with {
        $0.category = category
        // The first bucket is clipped to the range: it starts at the range's start.
        $0.points = bucketStarts.map { bucket in
          .with { $0.bucketStartTime = Micros.timestamp(max(bucket, rangeStart)); $0.count = counts[bucket] ?? 0 }
        }
        $0.totalCount = counts.values.reduce(0, +)
        $0.previousTotalCount = previousTotals[category] ?? 0
        $0.changeRate = $0.previousTotalCount == 0 ? 0 : Double($0.totalCount - $0.previousTotalCount) / Double($0.previousTotalCount)
      }
    }.sorted { ($0.totalCount, $1.category) > ($1.totalCount, $0.category) }
    let page = series.dropFirst(offset).prefix(pageSize)
    let nextToken = offset + page.count < series.count
      ? PageCursor(key: Int64(offset + page.count), id: "", filter: try QualityRequestRules.pageFilter(request)).token : ""
    let throughTime = try await through ?? Date(timeIntervalSince1970: 0)
    return .with { response in
      response.series = Array(page)
      response.nextPageToken = nextToken
      response.dataThroughTime = Google_Protobuf_Timestamp(date: throughTime)
    }
  }
}
