import Foundation
import SupportCodec
import SwiftProtobuf

/// Turns the counts of measure values of one group into ServiceMetrics, by the definitions on
/// the proto fields (docs/api.md "Quality numbers"). A rate whose denominator is 0 is 0.
struct ServiceMetricsCalculator {
  /// value → (count, holding, overdue, exact sum) per measure; durations in whole seconds
  /// (rounded up), their sums in milliseconds.
  var histograms: [QualityMeasure.Kind: [Int64: (count: Int64, holding: Int64, overdue: Int64, sum: Int64)]] = [:]

  mutating func add(_ count: QualityQueryStore.Count) {
    guard let kind = QualityMeasure.Kind(rawValue: count.measure) else { return }
    var entry = histograms[kind, default: [:]][count.value] ?? (0, 0, 0, 0)
    entry.count += count.count
    entry.holding += count.holding
    entry.overdue += count.overdue
    entry.sum += count.valueSum
    histograms[kind, default: [:]][count.value] = entry
  }

  /// Facts of a measure (all values).
  func count(_ kind: QualityMeasure.Kind, where include: (Int64) -> Bool = { _ in true }) -> Int64 {
    (histograms[kind] ?? [:]).reduce(0) { include($1.key) ? $0 + $1.value.count : $0 }
  }

  /// The sum of a measure's exact values (for measures whose value is itself a count or a sum).
  func sum(_ kind: QualityMeasure.Kind) -> Int64 { (histograms[kind] ?? [:]).values.reduce(0) { $0 + $1.sum } }

  /// Samples of a duration measure at or under the target, and all of them.
  func withinTarget(_ kind: QualityMeasure.Kind, targetMillis: Int64) -> (within: Int64, total: Int64) {
    (count(kind) { $0 * 1000 <= targetMillis }, count(kind))
  }

  static func rate(_ numerator: Int64, _ denominator: Int64) -> Double { denominator == 0 ? 0 : Double(numerator) / Double(denominator) }

  func metrics(settings: QualitySettings) -> Support_Feedback_V1_ServiceMetrics {
    .with { m in
      m.csat = csat()
      m.nps = nps()
      m.chatFirstResponse = durations(.chatFirstResponse, targetMillis: settings.chatFirstResponseTargetMillis)
      m.ticketFirstResponse = durations(.ticketFirstResponse, targetMillis: settings.ticketFirstResponseTargetMillis)
      m.resolutionTime = durations(.resolutionTime, targetMillis: settings.resolutionTargetMillis)
      let handled = count(.handled)
      m.resolution = .with {
        $0.handledCount = handled
        // Resolved, and (for tickets) not reopened by the end of the range.
        $0.resolvedCount = histograms[.handled]?[1]?.holding ?? 0
        $0.resolutionRate = Self.rate($0.resolvedCount, handled)
        $0.reopenedCount = count(.reopened)
      }
      m.returnExchange = .with {
        $0.returnExchangeCount = count(.ticketCreated) { $0 == 1 }
        $0.ticketCount = count(.ticketCreated)
        $0.shareOfTickets = Self.rate($0.returnExchangeCount, $0.ticketCount)
        $0.deliveredOrderCount = count(.deliveredOrder)
        $0.ratePerOrder = Self.rate($0.returnExchangeCount, $0.deliveredOrderCount)
      }
      m.complaints = .with {
        $0.complaintCount = count(.complaint)
        $0.serviceAttitudeCount = count(.complaint) { $0 == 1 }
        $0.complaintRate = Self.rate($0.complaintCount, handled)
      }
      m.chatReplies = .with {
        $0.answeredCount = sum(.chatRepliesAnswered)
        $0.withinTargetCount = sum(.chatRepliesWithinTarget)
        $0.withinTargetRate = Self.rate($0.withinTargetCount, $0.answeredCount)
        $0.average = .fromMilliseconds($0.answeredCount == 0 ? 0 : Int64((Double(sum(.chatReplyDelay)) / Double($0.answeredCount)).rounded()))
      }
      m.followUps = .with {
        $0.finishedCount = count(.followUpFinished)
        $0.reachedCount = count(.followUpFinished) { $0 >= 1 }
        $0.reachRate = Self.rate($0.reachedCount, $0.finishedCount)
        $0.dissatisfiedCount = count(.followUpFinished) { $0 == 2 }
        $0.dissatisfiedRate = Self.rate($0.dissatisfiedCount, $0.reachedCount)
        $0.overdueCount = (histograms[.followUpDue] ?? [:]).values.reduce(0) { $0 + $1.overdue }
      }
    }
  }

  func csat() -> Support_Feedback_V1_CsatMetrics {
    let scores = histograms[.csat] ?? [:]
    let responses = count(.csat)
    return .with {
      $0.responseCount = responses
      $0.average = Self.rate(scores.reduce(0) { $0 + $1.key * $1.value.count }, responses)
      $0.distribution = (1...5).map { score in .with { $0.score = Int32(score); $0.count = scores[Int64(score)]?.count ?? 0 } }
      $0.satisfiedRate = Self.rate(count(.csat) { $0 >= 4 }, responses)
      $0.surveyCount = count(.surveyCreated)
      $0.responseRate = Self.rate(count(.surveyCreated) { $0 == 1 }, $0.surveyCount)
    }
  }

  func nps() -> Support_Feedback_V1_NpsMetrics {
    .with {
      $0.responseCount = count(.nps)
      $0.promoters = count(.nps) { $0 >= 9 }
      $0.passives = count(.nps) { $0 == 7 || $0 == 8 }
      $0.detractors = count(.nps) { $0 <= 6 }
      $0.score = Self.rate(($0.promoters - $0.detractors) * 100, $0.responseCount)
    }
  }

  /// Count, mean (exact, from the millisecond sums), nearest-rank p50/p90 (the ⌈p·n⌉-th
  /// smallest sample, at 1-second resolution rounded up) and the share at or under the target
  /// (exact for whole-second targets), from the histogram of whole seconds.
  func durations(_ kind: QualityMeasure.Kind, targetMillis: Int64) -> Support_Feedback_V1_DurationStats {
    let samples = (histograms[kind] ?? [:]).map { (value: $0.key, count: $0.value.count) }.sorted { $0.value < $1.value }
    let n = samples.reduce(0) { $0 + $1.count }
    func percentile(_ percent: Int64) -> Int64 {
      guard n > 0 else { return 0 }
      // ⌈percent·n/100⌉ in integers (0.9 × 10 in floating point rounds up to the 10th).
      let rank = max(1, (percent * n + 99) / 100)
      var seen: Int64 = 0
      for sample in samples {
        seen += sample.count
        if seen >= rank { return sample.value }
      }
      return samples.last!.value
    }
    let total = (histograms[kind] ?? [:]).values.reduce(0) { $0 + $1.sum }
    return .with {
      $0.count = n
      $0.average = .fromMilliseconds(n == 0 ? 0 : Int64((Double(total) / Double(n)).rounded()))
      $0.p50 = .fromMilliseconds(percentile(50) * 1000)
      $0.p90 = .fromMilliseconds(percentile(90) * 1000)
      $0.withinTargetRate = Self.rate(samples.reduce(0) { $1.value * 1000 <= targetMillis ? $0 + $1.count : $0 }, n)
      $0.target = .fromMilliseconds(targetMillis)
    }
  }
}

extension Google_Protobuf_Duration {
  static func fromMilliseconds(_ ms: Int64) -> Google_Protobuf_Duration {
    Google_Protobuf_Duration(seconds: ms / 1000, nanos: Int32((ms % 1000) * 1_000_000))
  }
}
