import Foundation
import ServiceKit
import SupportCodec

/// The events feedback announces (feedback_events.proto, "PRODUCED"), built from the resource
/// as it is after the change. Stores append them to the outbox in the change's transaction.
enum FeedbackEvents {
  /// Without the token: a bearer secret has no place in the log (§3.9).
  static func surveyCreated(_ survey: Survey, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .surveyCreated(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.surveyID = survey.surveyID
      $0.subject = survey.subject
      $0.shopperID = survey.shopperID
      $0.agentID = survey.agentID
      $0.channel = survey.channel
      $0.expireTime = survey.expireTime
      $0.createTime = survey.createTime
    })
  }

  static func surveyAnswered(_ survey: Survey, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .surveyAnswered(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.surveyID = survey.surveyID
      $0.subject = survey.subject
      $0.shopperID = survey.shopperID
      $0.agentID = survey.agentID
      $0.skillGroup = survey.skillGroup
      $0.category = survey.category
      $0.ticketType = survey.ticketType
      $0.channel = survey.channel
      if survey.answer.hasCsat { $0.csat = survey.answer.csat }
      if survey.answer.hasNps { $0.nps = survey.answer.nps }
      $0.comment = survey.answer.comment
      $0.tags = survey.answer.tags
      $0.answerTime = survey.answer.answerTime
      $0.surveyVersion = survey.version
    })
  }

  static func surveyExpired(_ survey: Survey, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .surveyExpired(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.surveyID = survey.surveyID
      $0.subject = survey.subject
      $0.shopperID = survey.shopperID
      $0.agentID = survey.agentID
      $0.expireTime = survey.expireTime
      $0.surveyVersion = survey.version
    })
  }

  static func followUpCreated(_ followUp: FollowUp, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    .followUpCreated(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.followUpID = followUp.followUpID
      $0.ticketID = followUp.ticketID
      $0.shopperID = followUp.shopperID
      $0.agentID = followUp.agentID
      $0.dueTime = followUp.dueTime
      $0.skillGroup = followUp.skillGroup
      $0.category = followUp.category
      $0.ticketType = followUp.ticketType
      $0.channel = followUp.channel
    })
  }

  /// The follow-up's latest attempt. Tickets acts on `reopen_requested` (reopen with
  /// follow_up_id and reopen_reason) and on reached + SATISFIED (close).
  static func followUpRecorded(_ followUp: FollowUp, eventID: UUID) -> EventEnvelope.OneOf_Payload {
    let attempt = followUp.attempts.last ?? FollowUpAttempt()
    let reopen = attempt.reached && attempt.satisfaction == .dissatisfied
    return .followUpRecorded(.with {
      $0.eventID = eventID.uuidString.lowercased()
      $0.followUpID = followUp.followUpID
      $0.ticketID = followUp.ticketID
      $0.shopperID = followUp.shopperID
      $0.agentID = followUp.agentID
      $0.reached = attempt.reached
      $0.satisfaction = attempt.satisfaction
      $0.notes = attempt.notes
      $0.status = followUp.status
      $0.reopenRequested = reopen
      if reopen { $0.reopenReason = attempt.reason }
      $0.recordedBy = attempt.recordedBy
      $0.recordTime = attempt.recordTime
      $0.attemptNumber = Int32(followUp.attempts.count)
      $0.followUpVersion = followUp.version
      // A retry was scheduled: the due time moved there.
      if !attempt.reached && followUp.status == .pending { $0.nextAttemptTime = followUp.dueTime }
    })
  }
}
