import GRPCProtobuf
import ServiceKit

/// A canned response body parsed into literal text and `{name}` placeholders (chat.proto,
/// CannedResponseService): names are lower_snake_case, `{{` and `}}` are literal braces, and
/// anything else with a brace is malformed, so a typo such as `{Order_ID}` or `{order_id` is
/// refused when the response is saved instead of reaching a shopper half-rendered.
struct CannedResponseTemplate: Sendable, Equatable {
  enum Part: Sendable, Equatable {
    case text(String)
    case placeholder(String)
  }

  let parts: [Part]

  static let maxNameLength = 64

  /// Parses `body`; a malformed placeholder is INVALID_ARGUMENT naming `field`, the character
  /// position (1-based) and the grammar.
  init(parsing body: String, field: String = "body") throws {
    var parts: [Part] = []
    var literal = ""
    let characters = Array(body)
    var index = 0
    func malformed(_ what: String) -> GoogleRPCStatus {
      ServiceError.invalidArgument(
        field, "malformed placeholder at character \(index + 1): \(what) (write {lower_snake_case} names, {{ and }} for literal braces)")
    }
    while index < characters.count {
      let character = characters[index]
      if character == "}" {
        guard index + 1 < characters.count, characters[index + 1] == "}" else { throw malformed("a lone \"}\"") }
        literal.append("}")
        index += 2
        continue
      }
      guard character == "{" else {
        literal.append(character)
        index += 1
        continue
      }
      if index + 1 < characters.count, characters[index + 1] == "{" {
        literal.append("{")
        index += 2
        continue
      }
      guard let close = characters[(index + 1)...].firstIndex(where: { $0 == "}" || $0 == "{" }), characters[close] == "}" else {
        throw malformed("\"{\" without a closing \"}\"")
      }
      let name = String(characters[(index + 1)..<close])
      guard Self.isValidName(name) else {
        throw malformed("\"{\(name.prefix(Self.maxNameLength))}\" is not a lower_snake_case name")
      }
      if !literal.isEmpty { parts.append(.text(literal)) }
      literal = ""
      parts.append(.placeholder(name))
      index = close + 1
    }
    if !literal.isEmpty { parts.append(.text(literal)) }
    self.parts = parts
  }

  /// lower_snake_case: a lower-case ASCII letter, then lower-case letters and digits in words
  /// joined by single underscores.
  static func isValidName(_ name: String) -> Bool {
    guard name.count <= maxNameLength, let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
    var previousUnderscore = false
    for scalar in name.unicodeScalars {
      switch scalar {
      case "a"..."z", "0"..."9": previousUnderscore = false
      case "_":
        if previousUnderscore { return false }
        previousUnderscore = true
      default: return false
      }
    }
    return !previousUnderscore
  }

  /// The placeholder names, each once, in order of first appearance.
  var placeholders: [String] {
    var seen = Set<String>()
    return parts.compactMap {
      guard case .placeholder(let name) = $0, seen.insert(name).inserted else { return nil }
      return name
    }
  }

  /// The text with every placeholder that has a non-empty value replaced (values are inserted
  /// as they are, never parsed again); the others are left as `{name}` and reported missing,
  /// each once, in order of first appearance.
  func render(_ values: [String: String]) -> (text: String, missing: [String]) {
    var text = ""
    var missing: [String] = []
    for part in parts {
      switch part {
      case .text(let literal): text += literal
      case .placeholder(let name):
        if let value = values[name], !value.isEmpty {
          text += value
        } else {
          text += "{\(name)}"
          if !missing.contains(name) { missing.append(name) }
        }
      }
    }
    return (text, missing)
  }
}

/// The placeholder values a conversation supplies by itself (chat.proto,
/// CannedResponseService): {shopper_name}, {order_id}, {agent_name}, {conversation_id}. An
/// empty fact (no display name, no order) is no value, so the placeholder is reported missing.
enum ConversationPlaceholders {
  static func values(of conversation: Conversation, agentName: String) -> [String: String] {
    var values: [String: String] = ["conversation_id": conversation.conversationID]
    if !conversation.shopperDisplayName.isEmpty { values["shopper_name"] = conversation.shopperDisplayName }
    if !conversation.orderID.isEmpty { values["order_id"] = conversation.orderID }
    if !agentName.isEmpty { values["agent_name"] = agentName }
    return values
  }

  /// The conversation's values overridden by the caller's (`placeholder_values`); an empty
  /// override is no value and does not blank out the conversation's.
  static func merged(_ conversation: Conversation?, agentName: String, overrides: [String: String]) -> [String: String] {
    let base = conversation.map { values(of: $0, agentName: agentName) } ?? [:]
    return base.merging(overrides.filter { !$0.value.isEmpty }) { _, override in override }
  }

  static let maxValues = 50
  static let maxValueLength = 1_000

  /// `placeholder_values` as sent: names in the placeholder grammar, bounded values.
  static func validate(_ values: [String: String], field: String = "placeholder_values") throws {
    try Validate.maxCount(values, field, maxValues)
    for (name, value) in values.sorted(by: { $0.key < $1.key }) {
      guard CannedResponseTemplate.isValidName(name) else {
        throw ServiceError.invalidArgument("\(field)[\"\(name.prefix(64))\"]", "is not a lower_snake_case placeholder name")
      }
      try Validate.maxLength(value, "\(field)[\"\(name)\"]", maxValueLength)
    }
  }
}
