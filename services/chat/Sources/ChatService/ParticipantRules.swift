import GRPCCore
import ServiceKit
import SupportCodec

/// Who takes part in a conversation, for watching, typing and read markers: its shopper, its
/// assigned agent, and supervisors (services watch any, and type or read for a participant).
enum ParticipantRules {
  /// The verified caller may watch the conversation.
  static func requireWatcher(_ conversation: Conversation) throws {
    let caller = try Permissions.caller()
    switch caller.role {
    case .shopper where caller.subject != conversation.shopperID:
      throw Permissions.denied("this conversation belongs to another shopper")
    case .agent where caller.subject != conversation.assignedAgentID:
      throw Permissions.denied("agent \(caller.subject) is not assigned to this conversation")
    default:
      return
    }
  }

  /// An agent watches only their own inbox (a queue alone is fine); supervisors and services
  /// watch any; shoppers have no inbox.
  static func requireInboxWatcher(agentID: String) throws {
    let caller = try Permissions.caller()
    switch caller.role {
    case .shopper:
      throw Permissions.denied("only agents, supervisors and services may watch an inbox")
    case .agent where !agentID.isEmpty && agentID != caller.subject:
      throw Permissions.denied("agent_id: an agent may only watch their own inbox")
    default:
      return
    }
  }

  /// `actor` (already checked against the caller by `Permissions.actor`) takes part in the
  /// conversation: typing and read markers belong to its shopper or agent side.
  static func requireParticipant(_ actor: Permissions.Actor, _ conversation: Conversation, field: String) throws {
    switch actor.kind {
    case .shopper:
      guard actor.id == conversation.shopperID else { throw Permissions.denied("\(field) \(actor.id) is not this conversation's shopper") }
    case .agent:
      guard actor.id == conversation.assignedAgentID else {
        throw Permissions.denied("\(field) \(actor.id) is not the agent assigned to this conversation")
      }
    case .supervisor:
      return
    default:
      throw Permissions.denied("\(field).kind: only the shopper, an agent or a supervisor types or reads in a conversation")
    }
  }
}
