import GRPCCore
import SupportCodec

/// The permission rules handlers apply, in terms of the caller the gateway verified. Each rule
/// that fails throws PERMISSION_DENIED naming what was refused; nothing is written before.
public enum Permissions {
  public typealias Actor = Support_Common_V1_Actor

  /// The caller of the RPC in progress. The authentication interceptor refuses every call
  /// (health aside) without one, so a handler without a caller is a wiring fault: it fails
  /// closed with UNAUTHENTICATED.
  public static func caller() throws -> Caller {
    guard let caller = RequestContext.current?.caller else {
      throw RPCError(code: .unauthenticated, message: "no caller identity: call through the gateway with credentials")
    }
    return caller
  }

  /// Agents, supervisors and services only; `action` completes "only agents, supervisors and
  /// services may …".
  @discardableResult
  public static func requireStaff(_ action: String) throws -> Caller {
    let caller = try caller()
    guard caller.isStaff else { throw denied("only agents, supervisors and services may \(action)") }
    return caller
  }

  /// Whether the caller may see a resource belonging to `shopperID`: staff always, a shopper
  /// only their own. Handlers answer NOT_FOUND when not, so that ids of other shoppers'
  /// resources cannot be probed.
  public static func mayRead(shopperID: String) throws -> Bool {
    let caller = try caller()
    return caller.isStaff || caller.subject == shopperID
  }

  /// A shopper may only name themselves where a request names a shopper (`field`).
  public static func requireSelf(shopperID: String, field: String) throws {
    let caller = try caller()
    if !caller.isStaff && caller.subject != shopperID {
      throw denied("\(field): a shopper may only act for themselves")
    }
  }

  /// Who performs a mutating request. Shoppers, agents and supervisors act as themselves: an
  /// `actor` in the body that names anyone else is refused (PERMISSION_DENIED), and an absent
  /// one is filled in from the caller. A service caller may act for a person or the system,
  /// as its `actor` says; without one it acts as itself.
  public static func actor(claimed: Actor?, field: String = "actor") throws -> Actor {
    let caller = try caller()
    let kind: Support_Common_V1_ActorKind
    switch caller.role {
    case .shopper: kind = .shopper
    case .agent: kind = .agent
    case .supervisor: kind = .supervisor
    case .service:
      if let claimed, claimed.kind != .unspecified { return claimed }
      return .with { $0.kind = .service; $0.id = caller.subject; $0.displayName = claimed?.displayName ?? "" }
    }
    if let claimed {
      if claimed.kind != .unspecified && claimed.kind != kind {
        throw denied("\(field).kind: a \(caller.role.rawValue) caller may only act as themselves")
      }
      if !claimed.id.isEmpty && claimed.id != caller.subject {
        throw denied("\(field).id: a \(caller.role.rawValue) caller may only act as themselves")
      }
    }
    return .with { $0.kind = kind; $0.id = caller.subject; $0.displayName = claimed?.displayName ?? "" }
  }

  public static func denied(_ message: String) -> RPCError {
    RPCError(code: .permissionDenied, message: message)
  }
}
