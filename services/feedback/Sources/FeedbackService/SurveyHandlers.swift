import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.feedback.v1.SurveyService: create, read (by id, by token, as a list) and answer
/// satisfaction surveys. The token is returned by CreateSurvey only (contract review §3.9).
struct SurveyHandlers: RegistrableRPCService {
  typealias Methods = Support_Feedback_V1_SurveyService.Method
  let store: SurveyStore
  let tokens: SurveyTokens
  let settings: FeedbackSettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateSurvey.descriptor, createSurvey)
    router.registerUnary(Methods.GetSurvey.descriptor, getSurvey)
    router.registerUnary(Methods.GetSurveyByToken.descriptor, getSurveyByToken)
    router.registerUnary(Methods.SubmitSurveyAnswer.descriptor, submitSurveyAnswer)
    router.registerUnary(Methods.ListSurveys.descriptor, listSurveys)
  }

  @Sendable func createSurvey(_ request: Support_Feedback_V1_CreateSurveyRequest) async throws -> Survey {
    try Permissions.requireStaff("create surveys")
    try Validate.requestID(request.requestID)
    guard request.subject.kind == .conversation || request.subject.kind == .ticket else {
      throw ServiceError.invalidArgument("subject.kind", "must be CONVERSATION or TICKET")
    }
    try Validate.required(request.subject.id, "subject.id")
    try Validate.required(request.shopperID, "shopper_id")
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.known(request.channel, "channel")
    try Validate.maxLength(request.skillGroup, "skill_group", Validate.maxIDLength)
    try Validate.maxLength(request.category, "category", Validate.maxIDLength)
    try Validate.maxLength(request.ticketType, "ticket_type", Validate.maxIDLength)
    if request.hasExpireTime { try Validate.timestamp(request.expireTime, "expire_time") }
    let now = Date.nowMicroseconds
    let expiry = request.hasExpireTime ? request.expireTime.microsecondDate : now.addingTimeInterval(Double(settings.defaultValidityDays) * 86_400)
    // Checked against the time of this call, so not for a retry of a survey created before:
    // that returns its first result (the store looks the request id up first).
    var refusal: (any Error)?
    if expiry <= now {
      refusal = ServiceError.invalidArgument("expire_time", "must be in the future")
    } else if expiry > now.addingTimeInterval(Double(settings.maxValidityDays) * 86_400) {
      refusal = ServiceError.invalidArgument("expire_time", "must be at most \(settings.maxValidityDays) days ahead")
    }
    let survey = Survey.new(
      subject: request.subject, shopperID: request.shopperID, agentID: request.agentID, expiry: expiry, channel: request.channel,
      skillGroup: request.skillGroup, category: request.category, ticketType: request.ticketType, now: now)
    let token = tokens.token(forSurvey: survey.surveyID)
    let stored = try await store.create(
      survey, tokenHash: SurveyTokens.hash(token), requestID: request.requestID, fingerprint: Fingerprint.of(request), now: now,
      refusal: refusal, logger: log)
    // The one response that carries the token. A retry gets it again, re-derived from the
    // survey id, as long as it still matches the stored hash (it does unless the key changed).
    var created = stored.survey.withLiveStatus(at: now)
    let again = tokens.token(forSurvey: created.surveyID)
    created.token = SurveyTokens.hash(again) == stored.tokenHash ? again : ""
    return created
  }

  @Sendable func getSurvey(_ request: Support_Feedback_V1_GetSurveyRequest) async throws -> Survey {
    guard let id = try Validate.resourceID(request.surveyID, "survey_id"),
      let survey = try await store.get(id, logger: log),
      // Another shopper's survey does not exist for a shopper caller.
      try Permissions.mayRead(shopperID: survey.shopperID)
    else { throw ServiceError.notFound("survey", request.surveyID) }
    return survey.withLiveStatus(at: Date())
  }

  @Sendable func getSurveyByToken(_ request: Support_Feedback_V1_GetSurveyByTokenRequest) async throws -> Survey {
    // Any length: a malformed token is NOT_FOUND like an unknown one (the request size is capped).
    try Validate.required(request.token, "token", maxLength: .max)
    guard let survey = try await store.get(tokenHash: SurveyTokens.hash(request.token), logger: log),
      try Permissions.mayRead(shopperID: survey.shopperID)
    else {
      throw RPCError(code: .notFound, message: "no survey has this token")
    }
    return survey.withLiveStatus(at: Date())
  }

  @Sendable func submitSurveyAnswer(_ request: Support_Feedback_V1_SubmitSurveyAnswerRequest) async throws -> Survey {
    // Any length: a malformed token is NOT_FOUND like an unknown one (the request size is capped).
    try Validate.required(request.token, "token", maxLength: .max)
    if !request.hasCsat && !request.hasNps { throw ServiceError.invalidArgument("csat", "set csat, nps or both") }
    if request.hasCsat && !(1...5).contains(request.csat) { throw ServiceError.invalidArgument("csat", "must be 1 to 5") }
    if request.hasNps && !(0...10).contains(request.nps) { throw ServiceError.invalidArgument("nps", "must be 0 to 10") }
    try Validate.maxLength(request.comment, "comment", 2000)
    try Validate.maxCount(request.tags, "tags", 10)
    for (index, tag) in request.tags.enumerated() { try Validate.required(tag, "tags[\(index)]", maxLength: 64) }
    // The answer is the shopper's own: agents and supervisors may not answer for them (a
    // service may, for a shopper who answered through it, e.g. an SMS reply).
    let caller = try Permissions.caller()
    if caller.role == .agent || caller.role == .supervisor {
      throw Permissions.denied("only the survey's shopper (or a service for them) may answer it")
    }
    let now = Date.nowMicroseconds
    let answered = try await store.answer(tokenHash: SurveyTokens.hash(request.token), logger: log) { current in
      guard try Permissions.mayRead(shopperID: current.shopperID) else {
        throw RPCError(code: .notFound, message: "no survey has this token")
      }
      if current.status == .answered { throw ServiceError.alreadyExists("survey \(current.surveyID) was already answered") }
      if current.expireTime.date <= now {
        throw ServiceError.failedPrecondition(
          reason: "SURVEY_EXPIRED", domain: "support.feedback.v1", "survey \(current.surveyID) expired at \(current.expireTime.date)",
          metadata: ["survey_id": current.surveyID])
      }
      if request.expectedVersion != 0 && request.expectedVersion != current.version {
        throw ServiceError.versionMismatch("survey \(current.surveyID)", expected: request.expectedVersion, actual: current.version)
      }
      var survey = current
      survey.status = .answered
      survey.answer = .with { answer in
        if request.hasCsat { answer.csat = request.csat }
        if request.hasNps { answer.nps = request.nps }
        answer.comment = request.comment
        answer.tags = request.tags
        answer.answerTime = now.timestamp
      }
      survey.version += 1
      survey.updateTime = now.timestamp
      return survey
    }
    log.info("survey answered", metadata: ["survey_id": "\(answered.surveyID)"])
    return answered
  }

  @Sendable func listSurveys(_ request: Support_Feedback_V1_ListSurveysRequest) async throws -> Support_Feedback_V1_ListSurveysResponse {
    let pageSize = try PageCursor.pageSize(request.pageSize)
    if request.hasSubject {
      try Validate.specified(request.subject.kind, "subject.kind")
      try Validate.required(request.subject.id, "subject.id")
    }
    try Validate.maxLength(request.agentID, "agent_id", Validate.maxIDLength)
    try Validate.known(request.status, "status")
    var filter = SurveyStore.ListFilter(subject: request.hasSubject ? request.subject : nil, agentID: request.agentID, status: request.status)
    if request.hasCreateTimeRange {
      let range = request.createTimeRange
      if range.hasStartTime {
        try Validate.timestamp(range.startTime, "create_time_range.start_time")
        filter.createdFrom = range.startTime.unixMicroseconds
      }
      if range.hasEndTime {
        try Validate.timestamp(range.endTime, "create_time_range.end_time")
        filter.createdTo = range.endTime.unixMicroseconds
      }
      if let from = filter.createdFrom, let to = filter.createdTo, from > to {
        throw ServiceError.invalidArgument("create_time_range", "start_time is after end_time")
      }
    }
    // A shopper lists only their own surveys.
    let caller = try Permissions.caller()
    if !caller.isStaff { filter.shopperID = caller.subject }
    var filterOnly = request
    filterOnly.pageSize = 0
    filterOnly.pageToken = ""
    // The caller is part of the filter: a shopper's token is not valid for anyone else's list.
    let filterKey = try Fingerprint.of(filterOnly) + (caller.isStaff ? "" : ":" + Fingerprint.fnv1a(Array(caller.subject.utf8)))
    let after = try PageCursor.keysetAfter(request.pageToken, filter: filterKey)
    var rows = try await store.list(filter, after: after, limit: pageSize + 1, now: Date(), logger: log)
    var response = Support_Feedback_V1_ListSurveysResponse()
    if rows.count > pageSize {
      rows.removeLast(rows.count - pageSize)
      let last = rows[rows.count - 1]
      response.nextPageToken = PageCursor(key: last.micros, id: last.survey.surveyID, filter: filterKey).token
    }
    response.surveys = rows.map(\.survey)
    return response
  }
}

extension Survey {
  /// A new PENDING survey, version 1, without its token (the caller derives it from the id).
  static func new(
    subject: Support_Common_V1_SubjectRef, shopperID: String, agentID: String, expiry: Date, channel: Support_Common_V1_Channel,
    skillGroup: String, category: String, ticketType: String, now: Date
  ) -> Survey {
    .with {
      $0.surveyID = UUID().uuidString.lowercased()
      $0.subject = subject
      $0.shopperID = shopperID
      $0.agentID = agentID
      $0.status = .pending
      $0.createTime = now.timestamp
      $0.updateTime = now.timestamp
      $0.expireTime = expiry.timestamp
      $0.version = 1
      $0.channel = channel
      $0.skillGroup = skillGroup
      $0.category = category
      $0.ticketType = ticketType
    }
  }
}
