import Foundation
import GRPCCore
import Logging
import ServiceKit
import SupportCodec

/// support.feedback.v1.SurveyService: the methods this release serves (create, get, get by
/// token, submit an answer). The router answers the rest of the contract with UNIMPLEMENTED.
struct SurveyHandlers: RegistrableRPCService {
  typealias Methods = Support_Feedback_V1_SurveyService.Method
  let store: SurveyStore
  let settings: SurveySettings
  let logger: Logger

  var log: Logger { RequestContext.current?.logger ?? logger }

  func registerMethods<Transport: ServerTransport>(with router: inout RPCRouter<Transport>) {
    router.registerUnary(Methods.CreateSurvey.descriptor, createSurvey)
    router.registerUnary(Methods.GetSurvey.descriptor, getSurvey)
    router.registerUnary(Methods.GetSurveyByToken.descriptor, getSurveyByToken)
    router.registerUnary(Methods.SubmitSurveyAnswer.descriptor, submitSurveyAnswer)
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
    if expiry <= now { throw ServiceError.invalidArgument("expire_time", "must be in the future") }
    if expiry > now.addingTimeInterval(Double(settings.maxValidityDays) * 86_400) {
      throw ServiceError.invalidArgument("expire_time", "must be at most \(settings.maxValidityDays) days ahead")
    }
    var survey = Survey()
    survey.surveyID = UUID().uuidString.lowercased()
    survey.subject = request.subject
    survey.shopperID = request.shopperID
    survey.agentID = request.agentID
    survey.token = Self.newToken()
    survey.status = .pending
    survey.createTime = now.timestamp
    survey.updateTime = now.timestamp
    survey.expireTime = expiry.timestamp
    survey.version = 1
    survey.channel = request.channel
    survey.skillGroup = request.skillGroup
    survey.category = request.category
    survey.ticketType = request.ticketType
    let created = try await store.create(survey, requestID: request.requestID, fingerprint: Fingerprint.of(request), now: now, logger: log)
    return try created.withLiveStatus(at: now).forCaller()
  }

  @Sendable func getSurvey(_ request: Support_Feedback_V1_GetSurveyRequest) async throws -> Survey {
    guard let id = try Validate.resourceID(request.surveyID, "survey_id"),
      let survey = try await store.get(id, logger: log),
      // Another shopper's survey does not exist for a shopper caller.
      try Permissions.mayRead(shopperID: survey.shopperID)
    else { throw ServiceError.notFound("survey", request.surveyID) }
    return try survey.withLiveStatus(at: Date()).forCaller()
  }

  @Sendable func getSurveyByToken(_ request: Support_Feedback_V1_GetSurveyByTokenRequest) async throws -> Survey {
    try Validate.required(request.token, "token")
    guard let survey = try await store.get(token: request.token, logger: log), try Permissions.mayRead(shopperID: survey.shopperID) else {
      throw RPCError(code: .notFound, message: "no survey has this token")
    }
    return try survey.withLiveStatus(at: Date()).forCaller()
  }

  @Sendable func submitSurveyAnswer(_ request: Support_Feedback_V1_SubmitSurveyAnswerRequest) async throws -> Survey {
    try Validate.required(request.token, "token")
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
    let answered = try await store.answer(token: request.token, logger: log) { current in
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
    return try answered.forCaller()
  }

  /// 32 random bytes from the system's secure generator, base64url: unguessable.
  static func newToken() -> String {
    var generator = SystemRandomNumberGenerator()
    let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    return Data(bytes).base64EncodedString()
      .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
  }
}

extension Survey {
  /// A pending survey past its expiry reads as EXPIRED.
  func withLiveStatus(at now: Date) -> Survey {
    guard status == .pending, expireTime.date <= now else { return self }
    var survey = self
    survey.status = .expired
    return survey
  }
}

/// Survey settings from the environment.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | SUPPORTMESH_FEEDBACK_SURVEY_DAYS | validity of a survey created without expire_time | 7 |
/// | SUPPORTMESH_FEEDBACK_SURVEY_MAX_DAYS | the longest validity accepted | 90 |
struct SurveySettings: Sendable {
  var defaultValidityDays: Int
  var maxValidityDays: Int

  static func load(_ environment: EnvironmentReader = EnvironmentReader()) throws -> SurveySettings {
    var env = environment
    let settings = SurveySettings(
      defaultValidityDays: env.int("SUPPORTMESH_FEEDBACK_SURVEY_DAYS", default: 7, range: 1...365),
      maxValidityDays: env.int("SUPPORTMESH_FEEDBACK_SURVEY_MAX_DAYS", default: 90, range: 1...3650)
    )
    try env.validate()
    return settings
  }
}

extension Survey {
  /// The survey as the caller may see it: the token is a bearer secret, shown only to the
  /// survey's own shopper.
  func forCaller() throws -> Survey {
    let caller = try Permissions.caller()
    if caller.role == .shopper && caller.subject == shopperID { return self }
    var survey = self
    survey.token = ""
    return survey
  }
}
