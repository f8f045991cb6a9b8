import GRPCCore
import ServiceKit
import SupportCodec

/// Who is calling the gateway: an internal service with an API key, or a shopper, agent or
/// supervisor with a JWT. No credentials or bad ones: UNAUTHENTICATED. A valid caller outside
/// its scopes, or a shopper calling a method shoppers may not call: PERMISSION_DENIED. The
/// backends then apply their per-resource rules (a shopper sees only their own cases…).
struct GatewayAuthenticator: Sendable {
  let apiKeys: ReloadingFile<APIKeyFile>?
  let tokens: TokenVerifier?

  /// The credentials of one call: `x-api-key`, or `authorization: Bearer <JWT or API key>`.
  struct Credentials: Sendable, Hashable {
    var apiKey: String?
    var authorization: String?

    /// The text that identifies the caller, for caching verdicts.
    var cacheKey: String? { apiKey ?? authorization }
  }

  /// Verifies who is calling (no credentials or bad ones: UNAUTHENTICATED).
  func identify(_ credentials: Credentials) async throws -> Caller {
    var bearer: String?
    if let authorization = credentials.authorization {
      let parts = authorization.split(separator: " ", maxSplits: 1)
      guard parts.count == 2, parts[0].lowercased() == "bearer" else {
        throw RPCError(code: .unauthenticated, message: "authorization must be \"Bearer <token>\"")
      }
      bearer = parts[1].trimmingCharacters(in: .whitespaces)
    }
    if let key = credentials.apiKey ?? bearer.flatMap({ $0.hasPrefix(APIKeyFile.prefix) ? $0 : nil }) {
      guard let apiKeys else { throw RPCError(code: .unauthenticated, message: "API keys are not accepted here") }
      return try await apiKeys.current.caller(forKey: key)
    }
    if let bearer {
      guard let tokens else { throw RPCError(code: .unauthenticated, message: "tokens are not accepted here") }
      return try await tokens.verify(bearer)
    }
    throw RPCError(code: .unauthenticated, message: "missing credentials: send \"authorization: Bearer <JWT>\" or \"x-api-key: <key>\"")
  }

  /// Whether a verified caller may call `method` (PERMISSION_DENIED when not).
  static func authorize(_ caller: Caller, method: String) throws {
    guard Scope.allows(caller.scopes, method: method) else {
      throw RPCError(code: .permissionDenied, message: "\(caller.role.rawValue) \(caller.subject) may not call \(method): outside its scopes")
    }
    if caller.role == .shopper && !ShopperMethods.all.contains(method) {
      throw RPCError(code: .permissionDenied, message: "shoppers may not call \(method)")
    }
  }
}

/// The methods a shopper may call at all; each backend still decides per resource (own cases,
/// own conversations, own shipments and surveys). Every other method is for agents,
/// supervisors and services.
enum ShopperMethods {
  static let all: Set<String> = Set(
    [
      ("support.chat.v1.ConversationService", [
        "StartConversation", "GetConversation", "ListConversations", "GetQueuePosition", "CloseConversation",
        "SendMessage", "ListMessages", "SendTypingIndicator", "MarkRead", "WatchConversation", "GetEscalation",
      ]),
      ("support.chat.v1.FaqService", ["GetFaqEntry", "ListFaqEntries", "SearchFaq"]),
      ("support.tickets.v1.TicketService", [
        "CreateTicket", "GetTicket", "ListTickets", "TransitionTicket", "AddComment", "ListComments", "CheckEligibility",
      ]),
      // Shipments registered with a shopper_id: that shopper follows them (the backend checks).
      ("support.logistics.v1.ShipmentService", ["GetShipment", "ListShipments", "WatchShipment"]),
      ("support.feedback.v1.SurveyService", ["GetSurvey", "GetSurveyByToken", "SubmitSurveyAnswer", "ListSurveys"]),
    ].flatMap { service, methods in methods.map { "\(service)/\($0)" } }
  )
}
