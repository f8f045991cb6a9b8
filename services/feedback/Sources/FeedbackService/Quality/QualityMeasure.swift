import Foundation
import SwiftProtobuf

/// What one fact contributes to one number: a row of `quality_measures`. The numbers of a
/// request are sums over these rows (counts per value), so every figure can be recomputed from
/// the facts alone.
struct QualityMeasure: Sendable, Equatable {
  enum Kind: Int16, Sendable, CaseIterable {
    /// Chat first response, ms, at the conversation's close time.
    case chatFirstResponse = 1
    /// Ticket first public reply, ms since creation, at the reply time.
    case ticketFirstResponse = 2
    /// Ticket resolution time, ms (waiting on the shopper excluded), at the resolve time.
    case resolutionTime = 3
    /// Handled: a conversation closed with an agent, or a ticket's final state; value 1 when
    /// resolved (until_at: the reopen that undid the resolution).
    case handled = 4
    /// A ticket reopen, at the reopen time.
    case reopened = 5
    /// A ticket created; value 1 for a return/exchange type.
    case ticketCreated = 6
    /// A COMPLAINT ticket created; value 1 for category SERVICE_ATTITUDE.
    case complaint = 7
    /// A survey created; value 1 once answered.
    case surveyCreated = 8
    /// A csat answer (score), at the answer time.
    case csat = 9
    /// An nps answer (score), at the answer time.
    case nps = 10
    /// A follow-up finished: 0 unreached, 1 reached and satisfied (or no rating), 2 reached and
    /// dissatisfied, at the time it finished.
    case followUpFinished = 11
    /// A follow-up's due time (until_at: when it stopped being pending).
    case followUpDue = 12
    /// An order delivered (outbound), at its delivered time.
    case deliveredOrder = 13
    /// A conversation's answered shopper messages (value = how many), at its close time.
    case chatRepliesAnswered = 14
    /// Of those, answered within the skill group's target (value = how many).
    case chatRepliesWithinTarget = 15
    /// The sum of those reply delays in ms (value), at the close time.
    case chatReplyDelay = 16
  }

  /// The dimensions a measure is sliced and filtered by.
  struct Dimensions: Sendable, Equatable {
    var agentID = ""
    var category = ""
    var skillGroup = ""
    var channel: Int16 = 0
    var ticketType = ""
    var subjectKind: Int16 = 0
  }

  var kind: Kind
  /// Microseconds since 1970: what places the fact in a time range.
  var atMicros: Int64
  var value: Int64
  var untilMicros: Int64? = nil
  var dimensions: Dimensions
}

/// Time as stored in the facts: microseconds since 1970 (exact, like PostgreSQL's timestamptz).
enum Micros {
  static func of(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1_000_000).rounded()) }
  static func date(_ micros: Int64) -> Date { Date(timeIntervalSince1970: Double(micros) / 1_000_000) }
  static func timestamp(_ micros: Int64) -> Google_Protobuf_Timestamp {
    let (seconds, rest) = micros.quotientAndRemainder(dividingBy: 1_000_000)
    return rest >= 0
      ? Google_Protobuf_Timestamp(seconds: seconds, nanos: Int32(rest * 1000))
      : Google_Protobuf_Timestamp(seconds: seconds - 1, nanos: Int32((rest + 1_000_000) * 1000))
  }
}
