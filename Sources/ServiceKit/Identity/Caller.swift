import GRPCCore
import Synchronization

/// Who is calling: established once, at the gateway, from an API key or a JWT, and carried to
/// the backends in a signed header (`SignedCallerHeader`). Handlers read it from
/// `RequestContext.current?.caller` and decide with `Permissions`.
public struct Caller: Sendable, Codable, Equatable {
  public enum Role: String, Sendable, Codable, CaseIterable {
    /// A shopper acting for themselves: the subject is the shopper id.
    case shopper
    /// A customer-service agent: the subject is the agent id.
    case agent
    /// A supervisor: the subject is the supervisor's agent id.
    case supervisor
    /// An internal platform team's service (or one of ours): the subject is the service name.
    case service
  }

  public var subject: String
  public var role: Role
  /// Method patterns the caller may call (see `Scope.allows`).
  public var scopes: [String]

  public init(subject: String, role: Role, scopes: [String]) {
    self.subject = subject
    self.role = role
    self.scopes = scopes
  }

  /// Agents, supervisors and services work on any shopper's resources; shoppers only on their own.
  public var isStaff: Bool { role != .shopper }
}

/// Scope patterns, matched against a fully qualified method such as
/// `support.tickets.v1.TicketService/GetTicket`:
/// - `*` every method;
/// - `support.tickets.v1.*` every method of every service in a package;
/// - `support.tickets.v1.TicketService` or `support.tickets.v1.TicketService/*` every method
///   of one service;
/// - `support.tickets.v1.TicketService/GetTicket` one method.
public enum Scope {
  public static func allows(_ scopes: [String], method: String) -> Bool {
    scopes.contains { allows($0, method: method) }
  }

  public static func allows(_ pattern: String, method: String) -> Bool {
    if pattern == "*" || pattern == method { return true }
    guard let slash = method.firstIndex(of: "/") else { return false }
    let service = method[..<slash]
    if pattern == service || pattern == "\(service)/*" { return true }
    if pattern.hasSuffix(".*") {
      let package = pattern.dropLast(1)  // keeps the dot: "support.tickets.v1."
      return service.hasPrefix(package) && !service.dropFirst(package.count).contains(".")
    }
    return false
  }

  /// A well-formed pattern (for validating API key files and tokens).
  public static func isValid(_ pattern: String) -> Bool {
    !pattern.isEmpty && pattern.count <= 200
      && pattern.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._/*".contains($0)) }
  }
}

/// The caller of the RPC in progress, filled by the authentication interceptor. A reference
/// held by `RequestContext`, so interceptors later in the chain can set it without re-binding
/// the task-local context.
public final class CallerSlot: Sendable {
  private let value = Mutex<Caller?>(nil)

  public init(_ caller: Caller? = nil) {
    value.withLock { $0 = caller }
  }

  public var caller: Caller? {
    get { value.withLock { $0 } }
    set { value.withLock { $0 = newValue } }
  }
}
